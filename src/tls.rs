//! The certificate / private key pair of a `kubernetes.io/tls` Secret: that the PEM blocks
//! are a certificate and an unencrypted private key, and that the key belongs to the
//! certificate (what kubectl checks with Go's `tls.X509KeyPair`), before anything is sealed.
//!
//! The comparison is on public keys: the one in the certificate's SubjectPublicKeyInfo and
//! the one the private key carries (RSA modulus and exponent, the EC point of a SEC1 key) or
//! yields (P-256 and Ed25519 keys without a stored public part). No signature is computed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use sha2::{Digest, Sha512};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// One PEM block: its label and decoded bytes (zeroized: it may be a private key).
struct Block {
    label: String,
    encrypted: bool,
    der: Zeroizing<Vec<u8>>,
}

/// The PEM blocks of a file, in order; a block whose base64 does not decode is an error.
fn pem_blocks(bytes: &[u8]) -> Result<Vec<Block>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut encrypted = false;
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers (Proc-Type: 4,ENCRYPTED; DEK-Info: ...).
                encrypted |= l.starts_with("Proc-Type:") && l.contains("ENCRYPTED");
                continue;
            }
            body.push_str(l);
        }
        if !closed {
            return Err(format!("the PEM block {label} has no END line"));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| format!("the PEM block {label} is not valid base64"))?;
        out.push(Block {
            label: label.to_string(),
            encrypted,
            der,
        });
    }
    Ok(out)
}

/// A public key, in the form both sides can be compared in.
#[derive(PartialEq, Eq, Debug)]
enum Public {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        curve: Option<ObjectIdentifier>,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

/// Leading zero bytes do not change an integer (DER keeps one before a high bit).
fn unsigned(b: &[u8]) -> Vec<u8> {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[i..].to_vec()
}

/// The SubjectPublicKeyInfo of an X.509 certificate (DER).
fn certificate_key(der: &[u8]) -> Result<Public, der::Error> {
    let cert = AnyRef::from_der(der)?;
    cert.tag().assert_eq(Tag::Sequence)?;
    let mut r = SliceReader::new(cert.value())?;
    let tbs: AnyRef = r.decode()?;
    tbs.tag().assert_eq(Tag::Sequence)?;
    let mut t = SliceReader::new(tbs.value())?;
    let first: AnyRef = t.decode()?;
    let explicit_version = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber::N0,
    };
    if first.tag() == explicit_version {
        let _serial: AnyRef = t.decode()?;
    }
    // signature algorithm, issuer, validity, subject
    for _ in 0..4 {
        let _: AnyRef = t.decode()?;
    }
    let spki: SubjectPublicKeyInfoRef = t.decode()?;
    let bits = spki.subject_public_key.raw_bytes();
    let alg = &spki.algorithm;
    Ok(if alg.oid == RSA {
        let k = pkcs1::RsaPublicKey::from_der(bits)?;
        Public::Rsa {
            n: unsigned(k.modulus.as_bytes()),
            e: unsigned(k.public_exponent.as_bytes()),
        }
    } else if alg.oid == EC {
        let curve = alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        Public::Ec {
            curve,
            point: bits.to_vec(),
        }
    } else if alg.oid == ED25519 {
        Public::Ed25519(bits.to_vec())
    } else {
        return Err(der::Error::from(der::ErrorKind::OidUnknown {
            oid: alg.oid,
        }));
    })
}

/// The public key of a private key block (PKCS#1, SEC1 or PKCS#8), without revealing it.
fn private_key_public(label: &str, der: &[u8]) -> Result<Public, String> {
    let bad = |what: &str| format!("the {label} block is not a valid {what}");
    match label {
        "RSA PRIVATE KEY" => rsa_public(der).ok_or_else(|| bad("PKCS#1 RSA key")),
        "EC PRIVATE KEY" => ec_public(der, None).ok_or_else(|| bad("SEC1 EC key")),
        "PRIVATE KEY" => {
            let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|_| bad("PKCS#8 key"))?;
            let oid = info.algorithm.oid;
            if oid == RSA {
                rsa_public(info.private_key).ok_or_else(|| bad("PKCS#8 RSA key"))
            } else if oid == EC {
                let curve = info
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                ec_public(info.private_key, curve).ok_or_else(|| bad("PKCS#8 EC key"))
            } else if oid == ED25519 {
                ed25519_public(info.private_key).ok_or_else(|| bad("PKCS#8 Ed25519 key"))
            } else {
                Err(format!("the private key's algorithm ({oid}) is not RSA, ECDSA or Ed25519, the kinds Kubernetes TLS accepts"))
            }
        }
        other => Err(format!("a {other} block is not a private key")),
    }
}

fn rsa_public(der: &[u8]) -> Option<Public> {
    let k = pkcs1::RsaPrivateKey::from_der(der).ok()?;
    Some(Public::Rsa {
        n: unsigned(k.modulus.as_bytes()),
        e: unsigned(k.public_exponent.as_bytes()),
    })
}

/// The EC point of a SEC1 key: the stored one (OpenSSL always writes it), else computed for
/// P-256.
fn ec_public(der: &[u8], outer_curve: Option<ObjectIdentifier>) -> Option<Public> {
    let k = sec1::EcPrivateKey::from_der(der).ok()?;
    let curve = k.parameters.and_then(|p| p.named_curve()).or(outer_curve);
    let point = match k.public_key {
        Some(p) => p.to_vec(),
        None if curve == Some(P256) => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let sk = p256::SecretKey::from_slice(k.private_key).ok()?;
            sk.public_key().to_encoded_point(false).as_bytes().to_vec()
        }
        None => return None,
    };
    Some(Public::Ec { curve, point })
}

/// An Ed25519 public key from the PKCS#8 private key (an OCTET STRING holding the seed).
fn ed25519_public(inner: &[u8]) -> Option<Public> {
    let seed = der::asn1::OctetStringRef::from_der(inner).ok()?;
    let seed: [u8; 32] = seed.as_bytes().try_into().ok()?;
    let hash = Zeroizing::new(Sha512::digest(seed));
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(&hash[..32]);
    let point = curve25519_dalek::EdwardsPoint::mul_base_clamped(*scalar);
    Some(Public::Ed25519(point.compress().to_bytes().to_vec()))
}

/// Whether two keys are the same (an EC key without curve parameters matches on the point).
fn same_key(cert: &Public, key: &Public) -> bool {
    match (cert, key) {
        (
            Public::Ec {
                curve: c1,
                point: p1,
            },
            Public::Ec {
                curve: c2,
                point: p2,
            },
        ) => p1 == p2 && (c1.is_none() || c2.is_none() || c1 == c2),
        _ => cert == key,
    }
}

/// Checks a TLS pair. `Err` holds a message without any key material: which file holds what,
/// and what is wrong.
pub fn check_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
    let certs = pem_blocks(cert_pem)?;
    let Some(leaf) = certs.iter().find(|b| b.label == "CERTIFICATE") else {
        let hint = if pem_blocks(key_pem)
            .map(|k| k.iter().any(|b| b.label == "CERTIFICATE"))
            .unwrap_or(false)
        {
            " (the key file holds one: --cert and --key swapped?)"
        } else {
            ""
        };
        return Err(format!(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in the certificate file{hint}"
        ));
    };
    if certs.iter().any(|b| b.label.ends_with("PRIVATE KEY")) {
        return Err("the certificate file also holds a private key: tls.crt would expose it to everyone who may read the certificate".into());
    }
    let cert_key = certificate_key(&leaf.der)
        .map_err(|e| format!("the first certificate does not parse as X.509: {e}"))?;
    let keys = pem_blocks(key_pem)?;
    let Some(key) = keys.iter().find(|b| b.label.ends_with("PRIVATE KEY")) else {
        let hint = if keys.iter().any(|b| b.label == "CERTIFICATE") {
            " (it holds a certificate: --cert and --key swapped?)"
        } else {
            ""
        };
        return Err(format!(
            "no PEM private key (-----BEGIN ... PRIVATE KEY-----) in the key file{hint}"
        ));
    };
    if key.encrypted || key.label == "ENCRYPTED PRIVATE KEY" {
        return Err("the private key is encrypted with a passphrase; Kubernetes needs it unencrypted (decrypt it with `openssl pkey -in KEY -out KEY.plain`, then keep that file out of Git)".into());
    }
    let key_public = private_key_public(&key.label, &key.der)?;
    if !same_key(&cert_key, &key_public) {
        return Err(
            "the private key does not match the certificate (their public keys differ)".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_and_checked() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
        let blocks = pem_blocks(pem).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(&blocks[0].der[..], &[0, 1, 2]);
        assert!(pem_blocks(b"-----BEGIN X-----\nAAEC\n").is_err());
        assert!(pem_blocks(b"-----BEGIN X-----\n!!!\n-----END X-----\n").is_err());
        let enc = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        assert!(pem_blocks(enc).unwrap()[0].encrypted);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let cert = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let key = b"-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        let e = check_pair(cert, key).unwrap_err();
        assert!(e.contains("does not parse as X.509"), "{e}");
        assert!(check_pair(b"", key)
            .unwrap_err()
            .contains("no PEM certificate"));
        assert_eq!(unsigned(&[0, 0, 1, 0]), vec![1, 0]);
    }
}
