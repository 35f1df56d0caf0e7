//! The app's private key and the JWT it signs.
//!
//! GitHub hands out PKCS#1 keys (`BEGIN RSA PRIVATE KEY`); PKCS#8
//! (`BEGIN PRIVATE KEY`) is accepted too, since `openssl` converts to it
//! by default. Error messages never quote the key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::error::CheckError;

/// GitHub accepts app JWTs for at most ten minutes. The issue time is set
/// a minute back in case our clock runs ahead of GitHub's, and the expiry
/// stays within ten minutes of that.
const BACKDATE: u64 = 60;
const LIFETIME: u64 = 9 * 60;

/// The app's RSA key, ready to sign. `Debug` shows nothing of it.
pub struct AppKey(RsaKeyPair);

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey(<redacted>)")
    }
}

impl AppKey {
    /// Parses a PEM key in which `|` (or a literal `\n`) may stand for a
    /// newline, so the key fits in a one-line variable.
    pub fn from_pem(text: &str) -> Result<AppKey, CheckError> {
        let text = text.replace('|', "\n").replace("\\n", "\n");
        if !text.trim_start().starts_with("-----BEGIN ") {
            return Err(CheckError::Key("not a PEM key (no `-----BEGIN` line)"));
        }
        let der = PrivateKeyDer::from_pem_slice(text.as_bytes())
            .map_err(|_| CheckError::Key("no readable private key in the PEM text"))?;
        let pair = match der {
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            _ => return Err(CheckError::Key("not an RSA key")),
        };
        pair.map(AppKey)
            .map_err(|_| CheckError::Key("not a usable RSA key"))
    }

    /// The RS256 JWT that authenticates as app `app_id` at time `now`
    /// (seconds since the epoch).
    pub fn app_jwt(&self, app_id: u64, now: u64) -> Result<String, CheckError> {
        let issued = now.saturating_sub(BACKDATE);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = format!(
            r#"{{"iat":{issued},"exp":{},"iss":"{app_id}"}}"#,
            issued + LIFETIME
        );
        let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));

        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| CheckError::Sign)?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    const PKCS1: &str = include_str!("../tests/fixtures/app-key.pem");
    const PKCS8: &str = include_str!("../tests/fixtures/app-key-pkcs8.pem");
    const PUBLIC: &[u8] = include_bytes!("../tests/fixtures/app-key-public.der");

    fn claims(jwt: &str) -> serde_json::Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn signs_a_jwt_the_public_key_verifies() {
        let escaped = PKCS8.replace('\n', "\\n");
        for pem in [PKCS1, PKCS8, &PKCS1.replace('\n', "|"), &escaped] {
            let jwt = AppKey::from_pem(pem).unwrap().app_jwt(42, 1_000).unwrap();
            let (signed, signature) = jwt.rsplit_once('.').unwrap();
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, PUBLIC)
                .verify(
                    signed.as_bytes(),
                    &URL_SAFE_NO_PAD.decode(signature).unwrap(),
                )
                .unwrap();
            let claims = claims(&jwt);
            assert_eq!(claims["iss"], "42");
            assert_eq!(claims["iat"], 940);
            assert_eq!(claims["exp"], 1_480);
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_key_without_quoting_it() {
        for junk in [
            "hunter2-secret",
            "-----BEGIN RSA PRIVATE KEY-----\nhunter2-secret\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n",
        ] {
            let err = AppKey::from_pem(junk).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(text.contains("GITHUB_APP_PRIVATE_KEY"), "{text}");
            assert!(
                !text.contains("hunter2") && !text.contains("aGVsbG8"),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = AppKey::from_pem(PKCS1).unwrap();
        assert_eq!(format!("{key:?}"), "AppKey(<redacted>)");
    }
}
