//! Shamir secret sharing of the data key over GF(2^8), in the byte layout sops uses for files
//! with several `key_groups` (HashiCorp Vault's scheme): a share is the secret's length in
//! y-bytes followed by one byte holding the share's x coordinate.
//!
//! The field is GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1. Every
//! secret byte gets its own random polynomial of degree `threshold - 1` whose constant term is
//! the byte; share `i` (x = i + 1, as sops writes them) holds the polynomial's value at x.
//! Combining evaluates the Lagrange interpolation at x = 0. Multiplication runs in constant
//! time (no tables indexed by secret bytes). Every buffer that holds a secret or a share is
//! zeroized when dropped.

use zeroize::Zeroizing;

use crate::error::{Error, Kind, Result};

/// Bytes a share adds to the secret (its x coordinate).
pub const SHARE_OVERHEAD: usize = 1;

/// A share or a recombined secret: zeroized on drop.
pub type Bytes = Zeroizing<Vec<u8>>;

/// Multiplication in GF(2^8) (AES polynomial), branch-free: a shift-and-add over the bits of
/// `b` where each conditional is a mask, so that the time does not depend on the operands.
fn mul(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        // acc = acc * x, reduced: 0x1B when the top bit falls off.
        let carry = 0u8.wrapping_sub(acc >> 7) & 0x1B;
        acc = (acc << 1) ^ carry;
        let bit = 0u8.wrapping_sub((b >> i) & 1);
        acc ^= a & bit;
    }
    acc
}

/// The multiplicative inverse: a^254 (a^255 = 1 for a != 0), by square-and-multiply with a
/// fixed sequence of operations. `inv(0)` is 0; callers never divide by zero (distinct x).
fn inv(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    // 254 = 0b1111_1110
    for bit in 0..8 {
        if (254u32 >> bit) & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
    }
    result
}

/// Splits `secret` into `parts` shares, any `threshold` of which give it back.
///
/// Refuses what sops refuses: `threshold` below 2 (one share would be the secret itself),
/// more parts than x coordinates (255), fewer parts than the threshold, an empty secret.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Bytes>> {
    let refuse = |why: &str| Err(Error::new(Kind::Config, why.to_string()));
    if threshold < 2 {
        return refuse(
            "a Shamir threshold must be at least 2 (sops refuses 1 with several key groups)",
        );
    }
    if parts < threshold {
        return refuse("the Shamir threshold is larger than the number of key groups");
    }
    if parts > 255 {
        return refuse("Shamir secret sharing allows at most 255 key groups");
    }
    if secret.is_empty() {
        return refuse("cannot split an empty secret");
    }
    let mut out: Vec<Bytes> = (0..parts)
        .map(|i| {
            let mut s = Zeroizing::new(vec![0u8; secret.len() + SHARE_OVERHEAD]);
            s[secret.len()] = (i + 1) as u8;
            s
        })
        .collect();
    // Coefficients 1..threshold of one byte's polynomial; [0] is the secret byte.
    let mut coeffs = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coeffs[0] = byte;
        getrandom::getrandom(&mut coeffs[1..]).map_err(|e| {
            Error::new(
                Kind::Internal,
                format!("the system random generator failed: {e}"),
            )
            .with_source(e)
        })?;
        for share in out.iter_mut() {
            let x = share[secret.len()];
            // Horner's rule from the highest coefficient down.
            let y = coeffs.iter().rev().fold(0u8, |acc, &c| mul(acc, x) ^ c);
            share[idx] = y;
        }
    }
    Ok(out)
}

/// Recombines shares into the secret. At least two shares of the same length with distinct x
/// coordinates are needed; with fewer shares than the threshold they were made for, the
/// result is a wrong secret (which the caller detects: the file's values and MAC do not open).
pub fn combine(parts: &[&[u8]]) -> Result<Bytes> {
    let bad = |why: String| Err(Error::integrity(why));
    if parts.len() < 2 {
        return bad("less than two Shamir shares cannot give back a data key".to_string());
    }
    let len = parts[0].len();
    if len < 1 + SHARE_OVERHEAD {
        return bad(format!("a Shamir share is {len} bytes, too short"));
    }
    if parts.iter().any(|p| p.len() != len) {
        return bad("the Shamir shares differ in length".to_string());
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return bad(format!(
                "two key groups hold the same Shamir share (x = {x}): a group was copied"
            ));
        }
    }
    // The Lagrange basis at 0 for each share: prod_{j != i} x_j / (x_i + x_j) (+ is xor).
    let basis: Vec<u8> = (0..xs.len())
        .map(|i| {
            (0..xs.len())
                .filter(|&j| j != i)
                .fold(1u8, |b, j| mul(b, mul(xs[j], inv(xs[i] ^ xs[j]))))
        })
        .collect();
    let mut secret = Zeroizing::new(vec![0u8; len - SHARE_OVERHEAD]);
    for (idx, out) in secret.iter_mut().enumerate() {
        *out = parts
            .iter()
            .zip(&basis)
            .fold(0u8, |acc, (p, &b)| acc ^ mul(p[idx], b));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Shares unwrapped (with the age CLI) from a file sops 3.11 wrote with three key groups
    /// and `shamir_threshold: 2`; the data key was checked independently by decrypting one of
    /// the file's values with it (AES-256-GCM).
    const SOPS_SHARES: [&str; 3] = [
        "9f48e2ecd3001d75c7c82c7986e597928da0f152dabb278d9b9fcc59508fa54601",
        "ebd7f6025636b35ad6b9b350553d760d1819476ee396fa0b7e9f533ed25e476102",
        "c7a2fa58dc2420b6d996c6beed7529786b87dc7af48db180d49f26eaac11197c03",
    ];
    const SOPS_KEY: &str = "b33deeb659128e99c8e759973eadc8e7fe3e6a46cda06c06319fb98d2ec0fb5b";

    #[test]
    fn field_arithmetic() {
        // FIPS-197 4.2: {57} * {83} = {c1}, {57} * {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "inverse of {a}");
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
        }
    }

    #[test]
    fn combines_shares_sops_wrote() {
        let shares: Vec<Vec<u8>> = SOPS_SHARES.iter().map(|s| unhex(s)).collect();
        for pick in [[0, 1].as_slice(), &[1, 2], &[0, 2], &[2, 0], &[0, 1, 2]] {
            let parts: Vec<&[u8]> = pick.iter().map(|&i| shares[i].as_slice()).collect();
            assert_eq!(
                combine(&parts).unwrap().as_slice(),
                unhex(SOPS_KEY),
                "{pick:?}"
            );
        }
    }

    #[test]
    fn split_then_combine_any_threshold_subset() {
        let secret: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
        for (parts, threshold) in [(2, 2), (3, 2), (3, 3), (5, 3)] {
            let shares = split(&secret, parts, threshold).unwrap();
            assert_eq!(shares.len(), parts);
            for (i, s) in shares.iter().enumerate() {
                assert_eq!(s.len(), 33);
                assert_eq!(s[32] as usize, i + 1, "x coordinates as sops writes them");
            }
            // Every subset of `threshold` shares, in both orders.
            for mask in 0u32..(1 << parts) {
                if mask.count_ones() as usize != threshold {
                    continue;
                }
                let mut sel: Vec<&[u8]> = (0..parts)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| shares[i].as_slice())
                    .collect();
                assert_eq!(combine(&sel).unwrap().as_slice(), secret.as_slice());
                sel.reverse();
                assert_eq!(combine(&sel).unwrap().as_slice(), secret.as_slice());
            }
        }
    }

    #[test]
    fn fewer_shares_than_the_threshold_give_a_wrong_secret() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 3).unwrap();
        let two = combine(&[&shares[0], &shares[1]]).unwrap();
        assert_ne!(two.as_slice(), secret.as_slice());
    }

    /// The limits themselves are allowed: 255 parts (x = 1..=255), a one-byte secret.
    #[test]
    fn the_largest_split_and_the_shortest_secret() {
        let secret = [0x5Au8, 0xC3];
        let shares = split(&secret, 255, 2).unwrap();
        assert_eq!(shares.len(), 255);
        assert_eq!(shares[254][2], 255);
        let parts = [&shares[254][..], &shares[0][..]];
        assert_eq!(combine(&parts).unwrap().as_slice(), secret);
        let one = split(&[0x42], 3, 2).unwrap();
        assert!(one.iter().all(|s| s.len() == 2));
        assert_eq!(combine(&[&one[2], &one[1]]).unwrap().as_slice(), [0x42]);
        // A share of one byte holds no secret byte at all.
        let e = combine(&[&[1], &[2]]).unwrap_err();
        assert!(e.message.contains("1 bytes, too short"), "{}", e.message);
    }

    #[test]
    fn refusals() {
        let e = split(&[1; 32], 3, 1).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("at least 2"), "{}", e.message);
        assert!(split(&[1; 32], 2, 3).is_err());
        assert!(split(&[1; 32], 256, 2).is_err());
        assert!(split(&[], 2, 2).is_err());
        let s = split(&[9; 32], 3, 2).unwrap();
        for parts in [
            vec![&s[0][..]],
            vec![&s[0][..], &s[0][..]],
            vec![&s[0][..], &s[1][..31]],
            vec![&s[0][..1], &s[1][..1]],
        ] {
            let e = combine(&parts).unwrap_err();
            assert_eq!(e.kind, Kind::Integrity, "{}", e.message);
        }
        let e = combine(&[&s[1], &s[1]]).unwrap_err();
        assert!(e.message.contains("same Shamir share"), "{}", e.message);
    }
}
