//! API keys: `ApiKey`, a secret that never prints, and `SecretCipher`, which encrypts
//! keys at rest.
//!
//! Stored form: `enc:v2:` followed by base64 of a 24-byte random nonce and the
//! XChaCha20-Poly1305 ciphertext. The associated data binds the key to its config's alias
//! *and* to where the key is sent (vendor, provider type, base URL): a ciphertext copied
//! to another row, or a row whose `base_url` someone pointed at their own host, does not
//! decrypt, so the key is never handed to an endpoint it was not saved for. `enc:v1:`
//! (alias only) and plaintext keys of the earlier service still read; `reencrypt`
//! upgrades both.
//!
//! Keys are rotated by setting the new key as `STOCKDB_SECRET_KEY` and the old ones in
//! `STOCKDB_SECRET_KEY_PREVIOUS` (comma-separated): rows encrypted with an old key still
//! read, and `reencrypt` moves them to the new one; then the old keys can go.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Serialize, Serializer};
use shared_db::InvalidInput;
use zeroize::Zeroizing;

/// Prefix of an encrypted key of the current scheme.
pub(crate) const ENCRYPTED_PREFIX: &str = "enc:v2:";
/// Prefix of the first scheme (the alias as associated data only); still read.
pub(crate) const V1_PREFIX: &str = "enc:v1:";
/// What every encrypted key starts with, whatever its scheme.
pub(crate) const ANY_ENCRYPTED_PREFIX: &str = "enc:";

/// Where a key belongs: the fields its encryption binds it to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyBinding<'a> {
    pub(crate) alias: &'a str,
    pub(crate) vendor: &'a str,
    pub(crate) provider_type: &'a str,
    pub(crate) base_url: Option<&'a str>,
}

impl KeyBinding<'_> {
    /// The associated data of the current scheme: each field length-prefixed, so that no
    /// two different bindings give the same bytes.
    fn associated_data(&self) -> Vec<u8> {
        let mut aad = b"stockdb llm key v2".to_vec();
        for field in [
            Some(self.alias),
            Some(self.vendor),
            Some(self.provider_type),
            self.base_url,
        ] {
            match field {
                Some(text) => {
                    aad.push(1);
                    aad.extend_from_slice(&(text.len() as u64).to_be_bytes());
                    aad.extend_from_slice(text.as_bytes());
                }
                None => aad.push(0),
            }
        }
        aad
    }
}

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
    /// The stored value names an encryption scheme this build does not know.
    #[error(
        "the api_key of llm config {alias:?} is encrypted with a scheme this stockdb does not know"
    )]
    UnknownScheme {
        /// The config.
        alias: String,
    },
    /// The stored value is in the first scheme (`enc:v1:`, bound to the alias only),
    /// which this database refuses since `reencrypt` moved every key to the current one:
    /// someone wrote an old value back, perhaps to send the key to another endpoint.
    #[error(
        "the api_key of llm config {alias:?} is in the first encryption scheme (enc:v1:), which \
         this database refuses since every key was re-encrypted: an old value was written \
         back. Set the key again with `stockdb llm set`"
    )]
    RetiredScheme {
        /// The config.
        alias: String,
    },
    /// The cipher refused to encrypt (it cannot, with a valid key and nonce).
    #[error("cannot encrypt the api_key of llm config {alias:?}")]
    CannotEncrypt {
        /// The config.
        alias: String,
    },
}

impl SecretError {
    /// The alias of the config whose key it is (`*` when it concerns every config).
    pub fn alias(&self) -> &str {
        match self {
            Self::NoKey { alias }
            | Self::WrongKey { alias }
            | Self::UnknownScheme { alias }
            | Self::RetiredScheme { alias }
            | Self::CannotEncrypt { alias } => alias,
            Self::NoCipher => "*",
        }
    }
}

/// Encrypts and decrypts API keys with a 32-byte key, and decrypts with the keys it
/// replaced (after a rotation). `Debug` hides them.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: XChaCha20Poly1305,
    previous: Vec<XChaCha20Poly1305>,
}

/// How a stored key was kept: what `reencrypt` does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrigin {
    /// In plaintext (the earlier service's rows): encrypting it binds it to its row's
    /// endpoint for the first time.
    Plaintext,
    /// With the first scheme (`enc:v1:`, bound to the alias only): re-encrypting binds it
    /// to its row's endpoint for the first time.
    FirstScheme,
    /// With the current scheme and a previous key: already bound to its endpoint.
    PreviousKey,
    /// With the current key and scheme: nothing to do.
    Current,
}

impl KeyOrigin {
    /// True when re-encrypting binds the key to whatever endpoint its row names now:
    /// nothing vouched for that endpoint before, so an operator should look first.
    pub fn binds_newly(self) -> bool {
        matches!(self, Self::Plaintext | Self::FirstScheme)
    }
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(***)")
    }
}

impl SecretCipher {
    /// The environment variable holding the key, base64 of 32 bytes.
    pub const ENV: &'static str = "STOCKDB_SECRET_KEY";

    /// The environment variable holding the keys a rotation replaced, comma-separated.
    pub const PREVIOUS_ENV: &'static str = "STOCKDB_SECRET_KEY_PREVIOUS";

    /// A cipher from base64 of 32 bytes. The error never repeats the key.
    pub fn from_base64(key: &str) -> Result<Self, InvalidInput> {
        Ok(Self {
            cipher: Self::key_from_base64(Self::ENV, key)?,
            previous: Vec::new(),
        })
    }

    /// This cipher also decrypting what `keys` (base64, the keys it replaced) encrypted.
    pub fn with_previous<'k>(
        mut self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<Self, InvalidInput> {
        for key in keys.into_iter().filter(|k| !k.trim().is_empty()) {
            self.previous
                .push(Self::key_from_base64(Self::PREVIOUS_ENV, key)?);
        }
        Ok(self)
    }

    fn key_from_base64(field: &'static str, key: &str) -> Result<XChaCha20Poly1305, InvalidInput> {
        let bytes = Zeroizing::new(
            BASE64
                .decode(key.trim())
                .map_err(|_| InvalidInput::secret(field, "not valid base64"))?,
        );
        if bytes.len() != 32 {
            return Err(InvalidInput::secret(
                field,
                format!("must be 32 bytes of base64, found {} bytes", bytes.len()),
            ));
        }
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| InvalidInput::secret(field, "must be 32 bytes"))
    }

    /// The cipher configured by `STOCKDB_SECRET_KEY` (with `STOCKDB_SECRET_KEY_PREVIOUS`),
    /// or `None` when it is not set.
    pub fn from_env() -> Result<Option<Self>, InvalidInput> {
        match std::env::var(Self::ENV) {
            Ok(key) if !key.trim().is_empty() => {
                let previous = std::env::var(Self::PREVIOUS_ENV).unwrap_or_default();
                Self::from_base64(&key)?
                    .with_previous(previous.split(','))
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// A new random key, base64-encoded, for `STOCKDB_SECRET_KEY`.
    pub fn generate_key() -> String {
        BASE64.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// `key` encrypted for the config `binding` names, in the stored form.
    pub(crate) fn encrypt(
        &self,
        binding: KeyBinding<'_>,
        key: &ApiKey,
    ) -> Result<String, SecretError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.expose().as_bytes(),
                    aad: &binding.associated_data(),
                },
            )
            .map_err(|_| SecretError::CannotEncrypt {
                alias: binding.alias.to_owned(),
            })?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{ENCRYPTED_PREFIX}{}", BASE64.encode(blob)))
    }

    /// Decrypts with the current key, else a previous one; says which (`true`: current).
    fn decrypt(
        &self,
        alias: &str,
        aad: &[u8],
        encoded: &str,
    ) -> Result<(ApiKey, bool), SecretError> {
        let wrong_key = || SecretError::WrongKey {
            alias: alias.to_owned(),
        };
        let blob = BASE64.decode(encoded).map_err(|_| wrong_key())?;
        if blob.len() < NONCE_LEN {
            return Err(wrong_key());
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong_key())?;
        let payload = || Payload {
            msg: ciphertext,
            aad,
        };
        let (plaintext, current) = match self.cipher.decrypt(&XNonce::from(nonce), payload()) {
            Ok(plaintext) => (plaintext, true),
            Err(_) => self
                .previous
                .iter()
                .find_map(|old| old.decrypt(&XNonce::from(nonce), payload()).ok())
                .map(|plaintext| (plaintext, false))
                .ok_or_else(wrong_key)?,
        };
        let plaintext = Zeroizing::new(plaintext);
        let text = std::str::from_utf8(&plaintext).map_err(|_| wrong_key())?;
        Ok((ApiKey::new(text), current))
    }
}

/// Reads a stored key: plaintext as it is, encrypted through `cipher` (either scheme,
/// the current key or a previous one).
pub(crate) fn read_stored(
    cipher: Option<&SecretCipher>,
    binding: KeyBinding<'_>,
    stored: &str,
) -> Result<ApiKey, SecretError> {
    read_stored_with(cipher, binding, stored).map(|(key, _)| key)
}

/// [`read_stored`], and with what it was read: what `reencrypt` upgrades.
pub(crate) fn read_stored_with(
    cipher: Option<&SecretCipher>,
    binding: KeyBinding<'_>,
    stored: &str,
) -> Result<(ApiKey, KeyOrigin), SecretError> {
    let (encoded, aad, current_scheme) =
        if let Some(encoded) = stored.strip_prefix(ENCRYPTED_PREFIX) {
            (encoded, binding.associated_data(), true)
        } else if let Some(encoded) = stored.strip_prefix(V1_PREFIX) {
            (encoded, binding.alias.as_bytes().to_vec(), false)
        } else if stored.starts_with(ANY_ENCRYPTED_PREFIX) {
            return Err(SecretError::UnknownScheme {
                alias: binding.alias.to_owned(),
            });
        } else {
            return Ok((ApiKey::new(stored), KeyOrigin::Plaintext));
        };
    match cipher {
        Some(cipher) => {
            let (key, current_key) = cipher.decrypt(binding.alias, &aad, encoded)?;
            let with = match (current_scheme, current_key) {
                (true, true) => KeyOrigin::Current,
                (true, false) => KeyOrigin::PreviousKey,
                (false, _) => KeyOrigin::FirstScheme,
            };
            Ok((key, with))
        }
        None => Err(SecretError::NoKey {
            alias: binding.alias.to_owned(),
        }),
    }
}

/// The stored form of `key`: encrypted when a cipher is configured, else plaintext.
pub(crate) fn to_stored(
    cipher: Option<&SecretCipher>,
    binding: KeyBinding<'_>,
    key: &ApiKey,
) -> Result<String, SecretError> {
    match cipher {
        Some(cipher) => cipher.encrypt(binding, key),
        None => Ok(key.expose().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> SecretCipher {
        SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap()
    }

    fn binding<'a>(alias: &'a str, base_url: Option<&'a str>) -> KeyBinding<'a> {
        KeyBinding {
            alias,
            vendor: "deepseek",
            provider_type: "openai",
            base_url,
        }
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
        let at = binding("gpt", Some("https://api.example.com"));
        let first = cipher.encrypt(at, &key).unwrap();
        let second = cipher.encrypt(at, &key).unwrap();
        assert!(first.starts_with(ENCRYPTED_PREFIX));
        assert!(!first.contains("sk-live"));
        assert_ne!(first, second, "a fresh nonce every time");
        assert_eq!(read_stored(Some(&cipher), at, &first).unwrap(), key);
    }

    #[test]
    fn a_key_only_decrypts_for_where_it_was_saved() {
        let cipher = cipher();
        let key = ApiKey::new("sk");
        let stored = cipher
            .encrypt(binding("gpt", Some("https://api.openai.com")), &key)
            .unwrap();
        for elsewhere in [
            binding("claude", Some("https://api.openai.com")),
            binding("gpt", Some("https://evil.example.com")),
            binding("gpt", None),
            KeyBinding {
                vendor: "other",
                ..binding("gpt", Some("https://api.openai.com"))
            },
        ] {
            assert!(matches!(
                read_stored(Some(&cipher), elsewhere, &stored),
                Err(SecretError::WrongKey { .. })
            ));
        }
        assert!(matches!(
            read_stored(
                Some(&super::tests::cipher()),
                binding("gpt", Some("https://api.openai.com")),
                &stored
            ),
            Err(SecretError::WrongKey { .. })
        ));
        assert!(matches!(
            read_stored(None, binding("gpt", None), &stored),
            Err(SecretError::NoKey { .. })
        ));
    }

    #[test]
    fn first_scheme_keys_and_plaintext_still_read() {
        let cipher = cipher();
        // The first scheme bound the alias only.
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: b"sk-old",
                    aad: b"gpt",
                },
            )
            .unwrap();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        let v1 = format!("{V1_PREFIX}{}", BASE64.encode(blob));
        let at = binding("gpt", Some("https://anywhere"));
        assert_eq!(
            read_stored(Some(&cipher), at, &v1).unwrap().expose(),
            "sk-old"
        );
        assert_eq!(
            read_stored_with(Some(&cipher), at, &v1).unwrap().1,
            KeyOrigin::FirstScheme
        );
        assert_eq!(
            read_stored(None, at, "sk-plain").unwrap().expose(),
            "sk-plain"
        );
        assert!(matches!(
            read_stored(Some(&cipher), at, "enc:v9:AAAA"),
            Err(SecretError::UnknownScheme { .. })
        ));
    }

    #[test]
    fn bad_cipher_keys_are_refused_without_echoing_them() {
        let err = SecretCipher::from_base64("c2hvcnQ=").unwrap_err();
        assert_eq!(err.field, "STOCKDB_SECRET_KEY");
        assert_eq!(err.value, "***");
        assert!(SecretCipher::from_base64("not base64 !!").is_err());
    }
}
