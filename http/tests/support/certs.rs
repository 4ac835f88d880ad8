//! A throwaway CA, a server certificate for `localhost`, `127.0.0.1` and
//! `server.test`, another for `other.test` only, and a client certificate.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pair {
    pub fn der(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        use rustls::pki_types::pem::PemObject;
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap();
        (certs, key)
    }
}

pub struct Pki {
    pub ca_pem: String,
    pub server: Pair,
    /// Valid only for `other.test`.
    pub other_server: Pair,
    pub client: Pair,
}

pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "profcol test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let issue = |names: Vec<String>, ip: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        if ip {
            p.subject_alt_names
                .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        }
        let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    };
    Pki {
        ca_pem: ca.pem(),
        server: issue(vec!["localhost".into(), "server.test".into()], true),
        other_server: issue(vec!["other.test".into()], false),
        client: issue(vec!["client.test".into()], false),
    }
}

/// A self-signed certificate with `CA:TRUE` for `names`, used as a server
/// certificate (as small setups do), valid from `not_before` to `not_after`
/// (`(year, month, day)`).
pub fn self_signed_ca_leaf(
    names: &[&str],
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "self-signed CA leaf");
    p.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    p.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = p.self_signed(&key).unwrap();
    Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A `CA:TRUE` certificate for `localhost` signed by a fresh CA; returns the
/// CA's PEM and the pair.
pub fn ca_signed_ca_leaf() -> (String, Pair) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "profcol test root");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
    (
        ca.pem(),
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}
