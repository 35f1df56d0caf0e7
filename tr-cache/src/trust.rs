//! Signed objects: with `TASKRUNNER_CACHE_SIGNING_KEY` every archive and
//! latest-hash record is signed when saved; with
//! `TASKRUNNER_CACHE_VERIFY_KEY` a read refuses objects that are unsigned
//! or signed by another key.
//!
//! Keys are Ed25519, written as 64 hexadecimal digits: the 32-byte secret
//! seed for signing, the 32-byte public key for verifying (`tr-cache
//! keygen` prints a pair). The signature of object NAME is stored beside
//! it as `NAME.sig`, 128 hexadecimal digits. What is signed binds the
//! content to its object name, so a signed archive of one task or hash
//! cannot be planted under the name of another.

use std::fmt;
use std::io::{self, Read};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::CacheError;

/// The private signing key, present only where archives may be trusted.
pub const SIGNING_KEY_VAR: &str = "TASKRUNNER_CACHE_SIGNING_KEY";
/// The public key every restored object must be signed with.
pub const VERIFY_KEY_VAR: &str = "TASKRUNNER_CACHE_VERIFY_KEY";

const CONTEXT: &[u8] = b"taskrunner cache object v1\n";

/// The keys in use; either may be absent.
#[derive(Default)]
pub struct Trust {
    signer: Option<SigningKey>,
    verifier: Option<VerifyingKey>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("signing", &self.signer.is_some())
            .field("verifying", &self.verifier.is_some())
            .finish()
    }
}

impl Trust {
    /// Reads both keys from the environment.
    pub fn from_env() -> Result<Trust, CacheError> {
        Trust::new(read_key(SIGNING_KEY_VAR)?, read_key(VERIFY_KEY_VAR)?)
    }

    /// Keys given directly, for tests and embedding.
    pub fn new(signer: Option<[u8; 32]>, verifier: Option<[u8; 32]>) -> Result<Trust, CacheError> {
        let verifier = match verifier {
            Some(bytes) => {
                Some(
                    VerifyingKey::from_bytes(&bytes).map_err(|_| CacheError::InvalidKey {
                        var: VERIFY_KEY_VAR,
                        reason: "not an Ed25519 public key",
                    })?,
                )
            }
            None => None,
        };
        Ok(Trust {
            signer: signer.map(|seed| SigningKey::from_bytes(&seed)),
            verifier,
        })
    }

    /// Whether saved objects get a signature.
    pub fn is_signing(&self) -> bool {
        self.signer.is_some()
    }

    /// Whether read objects must carry a valid signature.
    pub fn is_verifying(&self) -> bool {
        self.verifier.is_some()
    }

    /// The signature text of object `name` with content digest `digest`,
    /// when signing.
    pub fn sign(&self, name: &str, digest: &[u8; 32]) -> Option<String> {
        let signer = self.signer.as_ref()?;
        let signature = signer.sign(&message(name, digest));
        Some(hex(&signature.to_bytes()) + "\n")
    }

    /// Checks `signature` (the `.sig` object, if any) of object `name`
    /// against the verifying key; passes everything when not verifying.
    pub fn verify(
        &self,
        name: &str,
        digest: &[u8; 32],
        signature: Option<&[u8]>,
    ) -> Result<(), CacheError> {
        let Some(verifier) = &self.verifier else {
            return Ok(());
        };
        let Some(text) = signature else {
            return Err(CacheError::Unsigned {
                object: name.to_owned(),
            });
        };
        let bad = || CacheError::BadSignature {
            object: name.to_owned(),
        };
        let text = std::str::from_utf8(text).map_err(|_| bad())?;
        let bytes: [u8; 64] = unhex(text.trim()).ok_or_else(bad)?;
        verifier
            .verify(&message(name, digest), &Signature::from_bytes(&bytes))
            .map_err(|_| bad())
    }
}

/// A new key pair as (signing key, verifying key), in hexadecimal.
pub fn generate() -> io::Result<(String, String)> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let key = SigningKey::from_bytes(&seed);
    Ok((hex(&seed), hex(key.verifying_key().as_bytes())))
}

fn message(name: &str, digest: &[u8; 32]) -> Vec<u8> {
    let mut message = CONTEXT.to_vec();
    message.extend_from_slice(name.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(digest);
    message
}

/// SHA-256 of `data`.
pub fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A reader that hashes what passes through it, or only passes it on
/// when no digest is needed.
pub struct Hashing<R> {
    inner: R,
    hasher: Option<Sha256>,
}

impl<R> Hashing<R> {
    /// Wraps `inner`; hashes only when `enabled`.
    pub fn new(inner: R, enabled: bool) -> Hashing<R> {
        Hashing {
            inner,
            hasher: enabled.then(Sha256::new),
        }
    }

    /// The digest of everything read so far (all zeros when disabled).
    pub fn digest(self) -> [u8; 32] {
        self.hasher.map_or([0; 32], |h| h.finalize().into())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn read_key(var: &'static str) -> Result<Option<[u8; 32]>, CacheError> {
    let Some(raw) = tr_common::env::non_empty(var) else {
        return Ok(None);
    };
    let key = raw.to_str().and_then(|text| unhex(text.trim()));
    key.map(Some).ok_or(CacheError::InvalidKey {
        var,
        reason: "expected 64 hexadecimal digits",
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Trust, Trust, Trust) {
        let (secret, public) = generate().unwrap();
        let secret: [u8; 32] = unhex(&secret).unwrap();
        let public: [u8; 32] = unhex(&public).unwrap();
        let (_, other) = generate().unwrap();
        let other: [u8; 32] = unhex(&other).unwrap();
        (
            Trust::new(Some(secret), None).unwrap(),
            Trust::new(None, Some(public)).unwrap(),
            Trust::new(None, Some(other)).unwrap(),
        )
    }

    #[test]
    fn signatures_bind_content_and_name() {
        let (signer, verifier, stranger) = pair();
        let digest = digest(b"archive");
        let signature = signer.sign("bundles/a-1.tar.zst", &digest).unwrap();
        let signature = Some(signature.as_bytes());

        verifier
            .verify("bundles/a-1.tar.zst", &digest, signature)
            .unwrap();
        let moved = verifier.verify("bundles/b-1.tar.zst", &digest, signature);
        assert!(matches!(moved, Err(CacheError::BadSignature { .. })));
        let changed = verifier.verify("bundles/a-1.tar.zst", &super::digest(b"x"), signature);
        assert!(matches!(changed, Err(CacheError::BadSignature { .. })));
        let foreign = stranger.verify("bundles/a-1.tar.zst", &digest, signature);
        assert!(matches!(foreign, Err(CacheError::BadSignature { .. })));
        let unsigned = verifier.verify("bundles/a-1.tar.zst", &digest, None);
        assert!(matches!(unsigned, Err(CacheError::Unsigned { .. })));
    }

    #[test]
    fn keys_must_be_hexadecimal() {
        assert!(unhex::<32>("zz").is_none());
        assert!(unhex::<1>("ff") == Some([255]));
        assert!(unhex::<2>("ffé").is_none());
        let trust = Trust::new(Some([7; 32]), None).unwrap();
        assert_eq!(
            format!("{trust:?}"),
            "Trust { signing: true, verifying: false }"
        );
    }
}
