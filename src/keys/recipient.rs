//! Recipients (public keys): parsing the strings that flags, variables, recipients files and
//! `.sops.yaml` give, and wrapping a data key for one recipient as the armored age file that
//! sops stores in `enc`.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use age::armor::{ArmoredWriter, Format};

use super::age_error_text;
use super::prompt::UiCallbacks;
use crate::error::{Error, Kind, Result};
use crate::secret::DataKey;

/// A parsed recipient (public key) and its original text, which sops stores verbatim in
/// `recipient:`.
#[derive(Clone)]
pub struct Recipient {
    text: String,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// X25519, ssh-ed25519, ssh-rsa and the tagged (`age1tag1`, `age1tagpq1`) types, which the
    /// age crate wraps itself.
    Native(Arc<dyn age::Recipient + Send + Sync>),
    /// `age1<name>1...`: the `age-plugin-<name>` binary is looked up when a key is wrapped, not
    /// when the recipient is parsed, so that listing or comparing recipients (`.sops.yaml`,
    /// `updatekeys`) works on machines without the plugin.
    Plugin(age::plugin::Recipient),
}

impl Recipient {
    /// Parses one recipient, ignoring surrounding whitespace.
    ///
    /// Accepted: X25519 `age1...`, post-quantum `age1pq1...`, `ssh-ed25519 ...`, `ssh-rsa ...`,
    /// plugin recipients `age1<name>1...` and the tagged `age1tag1...`/`age1tagpq1...` types.
    pub fn parse(s: &str) -> Result<Recipient> {
        let text = s.trim();
        if text.is_empty() {
            return Err(Error::new(Kind::Config, "empty recipient"));
        }
        // People paste the wrong half of a key pair: say so without echoing the secret.
        if starts_with_ignore_case(text, "AGE-SECRET-KEY-")
            || starts_with_ignore_case(text, "AGE-PLUGIN-")
        {
            return Err(Error::new(
                Kind::Config,
                "this is an age identity (a private key), not a recipient",
            )
            .with_hint(
                "give the public key instead: `age-keygen -y KEYFILE` prints it; \
                 never put private keys in flags, .sops.yaml or recipients files",
            ));
        }
        if text.starts_with("-----BEGIN") {
            return Err(Error::new(
                Kind::Config,
                "this is a private key or an encrypted file, not a recipient",
            )
            .with_hint("give the public key instead (age1... or the content of the .pub file)"));
        }

        let inner = if starts_with_ignore_case(text, "age1") {
            parse_age(text)?
        } else if text.starts_with("ssh-") || text.starts_with("sk-") || text.starts_with("ecdsa-")
        {
            parse_ssh(text)?
        } else {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "not a recipient: expected age1..., ssh-ed25519 or ssh-rsa (got {})",
                    shorten(text)
                ),
            ));
        };
        Ok(Recipient {
            text: text.to_string(),
            inner,
        })
    }

    /// The recipient as the user wrote it (trimmed), as stored in the sops file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether wrapping for this recipient runs an `age-plugin-<name>` binary.
    pub fn is_plugin(&self) -> bool {
        matches!(self.inner, Inner::Plugin(_))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A recipient is public: its text is all there is to show.
impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipient").field(&self.text).finish()
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Recipient {}

/// Parses the `age1...` family. The Bech32 human-readable part (everything before the last
/// `1`; the data alphabet has no `1`) says which type it is.
fn parse_age(text: &str) -> Result<Inner> {
    let hrp = text[..text.rfind('1').unwrap_or(0)].to_ascii_lowercase();
    let invalid = |e: &str| {
        Error::new(
            Kind::Config,
            format!("invalid age recipient {}: {e}", shorten(text)),
        )
    };
    match hrp.as_str() {
        // The age crate marks the classic types deprecated (not quantum-safe); they stay
        // supported, as every existing sops file uses them.
        #[allow(deprecated)]
        "age" => text
            .parse::<age::x25519::Recipient>()
            .map(|r| Inner::Native(Arc::new(r)))
            .map_err(invalid),
        // Hybrid ML-KEM-768 + X25519 (age >= 1.3, sops >= 3.12): about 1,950 characters.
        "age1pq" => text
            .parse::<age::pq::Recipient>()
            .map(|r| Inner::Native(Arc::new(r)))
            .map_err(invalid),
        #[allow(deprecated)]
        "age1tag" => text
            .parse::<age::tag::Recipient>()
            .map(|r| Inner::Native(Arc::new(r)))
            .map_err(invalid),
        "age1tagpq" => text
            .parse::<age::tagpq::Recipient>()
            .map(|r| Inner::Native(Arc::new(r)))
            .map_err(invalid),
        _ => text
            .parse::<age::plugin::Recipient>()
            .map(Inner::Plugin)
            .map_err(invalid),
    }
}

#[allow(deprecated)] // ssh-ed25519/ssh-rsa are not quantum-safe, and still supported.
fn parse_ssh(text: &str) -> Result<Inner> {
    use age::ssh::ParseRecipientKeyError as E;
    match text.parse::<age::ssh::Recipient>() {
        Ok(r) => Ok(Inner::Native(Arc::new(r))),
        Err(E::Unsupported(key_type)) => Err(Error::new(
            Kind::Unsupported,
            format!("SSH key type {key_type} cannot be an age recipient"),
        )
        .with_hint(
            "age supports ssh-ed25519 and ssh-rsa keys; hardware (sk-) keys need an age plugin",
        )),
        Err(E::RsaModulusTooSmall) => Err(Error::new(
            Kind::Unsupported,
            "this ssh-rsa key is shorter than 2048 bits, which age refuses as too weak",
        )),
        Err(E::RsaModulusTooLarge) => Err(Error::new(
            Kind::Unsupported,
            "this ssh-rsa key is longer than age supports (16384 bits)",
        )),
        Err(_) => Err(Error::new(
            Kind::Config,
            format!("invalid SSH public key {}", shorten(text)),
        )),
    }
}

/// Parses a list of recipients separated by commas and/or newlines, as given by `--age a,b`,
/// `KSEAL_AGE_RECIPIENTS` or a recipients file; blank lines and `#` comment lines are skipped.
pub fn parse_recipient_list(s: &str) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for line in s.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for item in line.split(',') {
            let item = item.trim();
            if !item.is_empty() {
                out.push(Recipient::parse(item)?);
            }
        }
    }
    Ok(out)
}

/// Wraps the data key for one recipient as an armored age file: exactly what sops stores in
/// `enc` (`-----BEGIN AGE ENCRYPTED FILE-----`, 64-column base64 lines, the END line and a
/// trailing newline). One recipient per envelope, as sops does.
pub fn wrap(key: &DataKey, recipient: &Recipient) -> Result<String> {
    wrap_payload(key.expose(), recipient)
}

/// `wrap` for another secret payload: a key group's Shamir share of the data key (33 bytes).
pub fn wrap_payload(payload: &[u8], recipient: &Recipient) -> Result<String> {
    let plugin;
    let r: &dyn age::Recipient = match &recipient.inner {
        Inner::Native(r) => r.as_ref(),
        Inner::Plugin(p) => {
            plugin = age::plugin::RecipientPluginV1::new(
                p.plugin(),
                std::slice::from_ref(p),
                &[],
                UiCallbacks,
            )
            .map_err(|e| plugin_missing(&e, recipient.text()))?;
            &plugin
        }
    };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(r)).map_err(|e| {
        Error::new(
            Kind::Config,
            format!(
                "cannot wrap the data key for {}: {}",
                shorten(recipient.text()),
                age_error_text(&e)
            ),
        )
    })?;

    let internal = |e: std::io::Error| {
        Error::new(
            Kind::Internal,
            format!("writing the age envelope failed: {e}"),
        )
    };
    let mut out = Vec::with_capacity(512);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(internal)?;
    let mut w = encryptor.wrap_output(armor).map_err(internal)?;
    w.write_all(payload).map_err(internal)?;
    w.finish().and_then(|a| a.finish()).map_err(internal)?;
    String::from_utf8(out).map_err(|_| Error::new(Kind::Internal, "the age armor is not UTF-8"))
}

/// The error for a plugin binary that cannot be found.
pub(crate) fn plugin_missing(e: &age::plugin::ResolveError, what: &str) -> Error {
    match e {
        age::plugin::ResolveError::MissingPlugin { binary_name } => Error::new(
            Kind::Config,
            format!(
                "{}: the age plugin {binary_name} is not installed (not found in PATH)",
                shorten(what)
            ),
        )
        .with_hint(format!("install {binary_name} and make sure it is in PATH")),
        other => Error::new(
            Kind::Config,
            format!("{}: {}", shorten(what), age_error_text(other)),
        ),
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Recipients are public, but a long paste (a whole file, a key with a comment) makes an
/// unreadable error: show its beginning only. A post-quantum recipient (about 1,950
/// characters) keeps its beginning and its end, so that two of them can be told apart.
pub fn shorten(s: &str) -> String {
    const MAX: usize = 72;
    if starts_with_ignore_case(s, "age1pq1") && s.is_ascii() && !s.contains(char::is_whitespace) {
        return shorten_pq(s);
    }
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX - 3).collect();
        format!("{head}...")
    }
}

/// `age1pq1` + 16 characters + `...` + the last 8 (the last 6 are the Bech32 checksum, which
/// differs between any two keys).
fn shorten_pq(s: &str) -> String {
    const HEAD: usize = 23;
    const TAIL: usize = 8;
    if s.len() <= HEAD + TAIL + 3 {
        return s.to_string();
    }
    format!("{}...{}", &s[..HEAD], &s[s.len() - TAIL..])
}

// The tests make classic (X25519) keys, which the age crate marks deprecated.
#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::*;

    const X25519: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

    fn kind_of<T>(r: Result<T>) -> Kind {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.kind,
        }
    }

    #[test]
    fn parses_x25519_and_keeps_text() {
        let r = Recipient::parse(&format!("  {X25519}\n")).unwrap();
        assert_eq!(r.text(), X25519);
        assert_eq!(format!("{r:?}"), format!("Recipient(\"{X25519}\")"));
    }

    #[test]
    fn pq_recipients_parse_and_shorten_readably() {
        let pq = crate::keys::testutil::read_fixture("flux-age-pq.txt")
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_string();
        assert!(pq.len() > 1900, "{}", pq.len());
        let r = Recipient::parse(&format!(" {pq}\n")).unwrap();
        assert_eq!(r.text(), pq);
        let short = shorten(&pq);
        assert_eq!(short.len(), 23 + 3 + 8, "{short}");
        assert!(
            short.starts_with("age1pq1") && short.contains("..."),
            "{short}"
        );
        assert!(short.ends_with(&pq[pq.len() - 8..]), "{short}");
        // A damaged PQ recipient: refused, and the message stays short.
        let bad = format!("{}x{}", &pq[..100], &pq[101..]);
        let e = Recipient::parse(&bad).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(
            e.message.contains("invalid age recipient age1pq1"),
            "{}",
            e.message
        );
        assert!(e.message.len() < 200, "{}", e.message);
        // The made-up short one of older tests is not a key.
        let fake =
            "age1pq1ehusfwsvrente8p6gafr4jemv2urnqfm4c59ng5dgqqzlk2vv9rcekpjxws7tsy23geqnpy2zq";
        assert_eq!(kind_of(Recipient::parse(fake)), Kind::Config);
        // Short texts are shown whole.
        assert_eq!(shorten("age1pq1abc"), "age1pq1abc");
    }

    #[test]
    fn garbage_is_a_config_error() {
        let e = Recipient::parse("hello world").unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e
            .message
            .starts_with("not a recipient: expected age1..., ssh-ed25519 or ssh-rsa"));
        assert_eq!(kind_of(Recipient::parse("")), Kind::Config);
        // A bad checksum.
        let bad = X25519.replace("ys29", "ys28");
        let e = Recipient::parse(&bad).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("invalid age recipient"));
    }

    #[test]
    fn long_garbage_is_not_echoed_in_full() {
        let long = "x".repeat(5000);
        let e = Recipient::parse(&long).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
    }

    #[test]
    fn secret_keys_are_refused_without_echo() {
        let sk = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
        let e = Recipient::parse(sk).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(!e.message.contains("GQ9778"));
        assert!(!e.hint().unwrap().contains("GQ9778"));
    }

    /// Bech32 (BIP 173, as age uses it) of `hrp` and 5-bit `data`, to build plugin recipients
    /// for plugins that do not exist.
    fn bech32(hrp: &str, data: &[u8]) -> String {
        const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
        values.push(0);
        values.extend(hrp.bytes().map(|c| c & 31));
        values.extend_from_slice(data);
        values.extend_from_slice(&[0; 6]);
        let mut chk: u32 = 1;
        for v in values {
            let top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk ^= 1;
        let mut s = format!("{hrp}1");
        for &d in data {
            s.push(CHARSET[d as usize] as char);
        }
        for i in 0..6 {
            s.push(CHARSET[((chk >> (5 * (5 - i))) & 31) as usize] as char);
        }
        s
    }

    #[test]
    fn plugin_recipients_parse_and_fail_to_wrap_without_the_plugin() {
        // 16 groups of 5 bits: 10 whole bytes (age 0.13 refuses non-zero padding bits).
        let s = bech32("age1kseal-test-nonexistent", &[3; 16]);
        let r = Recipient::parse(&s).unwrap();
        assert_eq!(r.text(), s);
        let key = DataKey::from_bytes(&[7u8; 32]).unwrap();
        let e = wrap(&key, &r).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(
            e.message.contains("age-plugin-kseal-test-nonexistent"),
            "{}",
            e.message
        );
        // The bech32 helper agrees with age's own encoder.
        let id = age::plugin::Identity::default_for_plugin("foo")
            .unwrap()
            .to_string();
        assert_eq!(id, bech32("age-plugin-foo-", &[]).to_uppercase());
    }

    #[test]
    fn tagged_recipients_wrap_natively() {
        // From the age crate's test vectors (a P-256 tag recipient, as hardware keys use).
        let tag = "age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e";
        let r = Recipient::parse(tag).unwrap();
        let key = DataKey::from_bytes(&[9u8; 32]).unwrap();
        assert!(wrap(&key, &r)
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    }

    #[test]
    fn ssh_recipients_parse() {
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN user@host";
        let r = Recipient::parse(ed).unwrap();
        assert_eq!(r.text(), ed);
        let e = Recipient::parse("ssh-ed25519 AAAAnotbase64!!").unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        let e = Recipient::parse(
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBN+Mh0V3v2nQc",
        )
        .unwrap_err();
        assert!(matches!(e.kind, Kind::Unsupported | Kind::Config));
    }

    /// Recipients are equal when their texts are, shown as their text, and only plugin
    /// recipients need a plugin.
    #[test]
    fn equality_display_and_plugin_kind_follow_the_text() {
        let other = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
        let a = Recipient::parse(X25519).unwrap();
        assert_eq!(a, Recipient::parse(&format!(" {X25519} ")).unwrap());
        assert_ne!(a, Recipient::parse(other).unwrap());
        assert_eq!(a.to_string(), X25519);
        assert!(!a.is_plugin());
        let plugin = Recipient::parse(&bech32("age1kseal-test-nonexistent", &[3; 16])).unwrap();
        assert!(plugin.is_plugin());
        assert_ne!(plugin, a);
    }

    /// The post-quantum tagged type (`age1tagpq1...`, hardware keys) is built into age: it
    /// wraps without any plugin.
    #[test]
    fn tagpq_recipients_wrap_natively() {
        // The age crate's test vector.
        let tagpq = "age1tagpq1m3e4wvp6hzcrn9exhy0ae3xfx2sjymp594k3tg7j4dpmj922we65vtnmrt2pyallax8669zqkr2pmfchptr4n38kug2xmcmp3adk2lnjqu00x5kxz5pvhmrltvfh9wuq973pcx35cnq8syn9qd3tzpehgztl4xpzr3tpd67g8af9trnjpc05gh7wu536aq4qt2y8zhsm4tvrfpsfl36qs5fpzysnk3sp9w77qzeg49357xex40v4s2lvt620swyys7u8yxdcnu4rkkwxdmt55gsuc3h5c5swahnegjgqwc60hn085ec3sjztwm45l44y3j2at9t6v9zra4ek3kek6waecqm98yaxl37w0d2zra626nz63jdm5sg59w7lyptw83zm6fntd8d0x03a9z6h9prfgpygzar6zrxjcrt4cdctk2mhf95s4a6v4zklfd49xhpsaeujm57thx2x3e3hwzc86ftfhmq5mkxxz3d6r8ws24xj4qfn73eyezg2wy094e3why592pghz27ruq3vkyegrv80eftnw9wqzwgvnwyseaus0yt84fylzrpzp6x2fguxuqjmgudr8xd33qm30evdpxd3jvjg8qh4q60kyq80jgff369k7nrepdc38grd2dava520excqp0ey0x39khx8ry03yffcatgv84fsx5j49djpapedsy693zute5xv5g2ewzrlj5se7akvkc4g4vmzhputpq8eyj9wz5dz6qtn7g3cfpd95nahw4ytspan0feyye04dcylv24ege7zkaj004gjwcxqxfqu2quawa83sx452jqjn8t48czp0xspwgnmvjyhttzzy6nhq8xzkdwnvsfefkwva6asrqc93zjn4rly5gnlv93xy3uzmr39szvjnf63426qzyeyvguc4vdcquwgsxgq236afcpqz866ny4tn7ckc0umefj242rt5vtvwqzzrvfev2mpvqcufp9pqvefyv4ftyuhgausfzuaadsczeykmft5wv3frzgrcp9ztr93h478ke4t86spp2uhyjkj73mp9g92ddk2fpv7v3njzsqgwhq3789sqrgkskehn0zjscckhwftyq4vet7vrlx2hs5kd9cwnq6t0djffhh3zquh4j3p0yaj9z2rc9wykg0usqw7983rrgur9jg8rnnqypwcz2lyclnnc705fc5g3an93ps60q6mxqp85u0ewtxdjlqcks84yduft0a0g6e7naew3v9u2d08knarvajn8q3gq9pgxde3s7nx94lus48wwvw2xjm7k82tvylec2393jdsuvch2xpe77w8hpv9nvsxfsrs270njpmfvpmgyk2cffl9tjp3qqcc4dfkf5rme2dg0x7ew8g39www5smm705q5da4eqvnqwrkavtq6xje9ss38hnkglz4eddz8f5qruvqmq2ff9l22gwkv8h432rdkysy0grkul8e2fedvkyyapfxt760udcgu92m54wl9yavmj4ga3ph9r5n99cjrq6wj5v33x33fe5vkjvfwnnt40wuv2hyexc9f4ylyqv9ldqq9epd4yuv8vrsfx2qy2kqz08kqhnzspy6s0x8fa5c2xkg5y2q0rvz4vnk7rp0acg6eksc3t7cxnn8y7glkjsqja3p56uz6vvhcw55d3ysad0hvsqxpjnc7svenf2gc5xn5kyr0et2vvyruxlnpqcdpqh9pzplumy5yzjxftyzh9ujfw0jq7ee60zx2x23p0jzyh9dvmly8p9h9ysptlqu7kwnejd65dnr75a0np2fvke8xen38r57w6z3wz3mycjmmn267wwxndfh9jdps7uxtct2wwfgamkpa5ap8s96lhfjztpwcm6fguhphu38yunu2v4vz3syzrvgwtqpemkewzp766nyu6texxvjlaemnhyyqutkcy6a42vqfsz49rw5wr4gt70r4vdaasehqjg46fnyts4sthrxadfllha3avu49wsj2c4jx";
        let r = Recipient::parse(tagpq).unwrap();
        assert!(!r.is_plugin());
        let key = DataKey::from_bytes(&[9u8; 32]).unwrap();
        assert!(wrap(&key, &r)
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    }

    /// `ecdsa-` and `sk-` (hardware) SSH keys are SSH keys age cannot use: said so, not
    /// "not a recipient".
    #[test]
    fn unsupported_ssh_key_types_are_named() {
        let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLf9ZanQvp+Qcvogc4FYi9JPOdxtL+MmY4vmu7Er5GQ2a76UGeuzPtfnim1mG2uSfKB5bqSzMak3474ZEbaXHmE=";
        let e = Recipient::parse(ecdsa).unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported, "{}", e.message);
        assert_eq!(
            e.message,
            "SSH key type ecdsa-sha2-nistp256 cannot be an age recipient"
        );
        let sk = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGNAAAABHNzaDo=";
        let e = Recipient::parse(sk).unwrap_err();
        assert_ne!(
            e.message,
            format!(
                "not a recipient: expected age1..., ssh-ed25519 or ssh-rsa (got {})",
                shorten(sk)
            )
        );
        assert!(e.message.contains("SSH"), "{}", e.message);
    }

    /// Long texts keep their first 69 characters; post-quantum recipients (one word of ASCII)
    /// keep `age1pq1` + 16 and the last 8; anything up to 34 characters is shown whole.
    #[test]
    fn shorten_keeps_a_readable_beginning() {
        let long = "x".repeat(100);
        assert_eq!(shorten(&long), format!("{}...", "x".repeat(69)));
        assert_eq!(shorten(&"x".repeat(72)), "x".repeat(72));
        // Starts like a PQ recipient but holds spaces: an ordinary long text.
        let spaced = format!("age1pq1{} {}", "a".repeat(50), "b".repeat(50));
        assert_eq!(shorten(&spaced), format!("{}...", &spaced[..69]));
        let pq = |n: usize| format!("age1pq1{}", "q".repeat(n - 7));
        for n in [30, 34] {
            assert_eq!(shorten(&pq(n)), pq(n));
        }
        let p = format!("{}{}", pq(27), "abcdefgh");
        assert_eq!(p.len(), 35);
        assert_eq!(shorten(&p), format!("{}...abcdefgh", &p[..23]));
    }

    #[test]
    fn list_with_commas_newlines_and_comments() {
        let other = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
        let text = format!("# team keys\n\n{X25519}, {other}\n  # old key\n{other}\n");
        let list = parse_recipient_list(&text).unwrap();
        let texts: Vec<&str> = list.iter().map(|r| r.text()).collect();
        assert_eq!(texts, [X25519, other, other]);
        assert!(parse_recipient_list("").unwrap().is_empty());
        assert!(parse_recipient_list(" , ,\n").unwrap().is_empty());
        assert_eq!(
            kind_of(parse_recipient_list(&format!("{X25519},nope"))),
            Kind::Config
        );
    }

    #[test]
    fn wrap_output_is_sops_armor() {
        let key = DataKey::from_bytes(&[0x42; 32]).unwrap();
        let r = Recipient::parse(X25519).unwrap();
        let enc = wrap(&key, &r).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        let lines: Vec<&str> = enc.lines().collect();
        let body = &lines[1..lines.len() - 1];
        assert!(body.len() >= 4);
        for l in &body[..body.len() - 1] {
            assert_eq!(l.len(), 64, "{l}");
        }
        let last = body[body.len() - 1];
        assert!(!last.is_empty() && last.len() <= 64);
        assert!(!enc.contains('\r'));
        // One X25519 stanza and a 32-byte payload, like sops's envelopes; the age crate also
        // adds one random `-grease` stanza, which every age implementation ignores.
        let mut binary = Vec::new();
        std::io::Read::read_to_end(
            &mut age::armor::ArmoredReader::new(enc.as_bytes()),
            &mut binary,
        )
        .unwrap();
        let header_end = binary.windows(4).position(|w| w == b"\n---").unwrap();
        let header = String::from_utf8_lossy(&binary[..header_end]);
        let stanzas: Vec<&str> = header
            .lines()
            .filter_map(|l| l.strip_prefix("-> "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            stanzas.iter().filter(|t| **t == "X25519").count(),
            1,
            "{header}"
        );
        assert!(
            stanzas
                .iter()
                .all(|t| *t == "X25519" || t.ends_with("-grease")),
            "{header}"
        );
        // Payload: 16-byte nonce + 32-byte key + 16-byte tag after the MAC line.
        let mac_line_end = header_end
            + 1
            + binary[header_end + 1..]
                .iter()
                .position(|b| *b == b'\n')
                .unwrap();
        assert_eq!(binary.len() - mac_line_end - 1, 64);
        // Two wraps of the same key differ (fresh file key and ephemeral share).
        assert_ne!(enc, wrap(&key, &r).unwrap());
    }

    #[test]
    fn recipients_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Recipient>();
    }
}
