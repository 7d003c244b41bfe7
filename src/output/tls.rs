//! TLS client configuration for the network sinks (syslog over TLS, RFC
//! 5425; Splunk HEC over HTTPS): rustls with the `ring` provider.
//!
//! Certificate verification is always on: the server's chain must lead to
//! a CA from `--ca-file` (PEM), or, without it, from the system bundle,
//! and the certificate must name the host of the destination (DNS name or
//! IP address SAN, RFC 6125). There is no option to turn verification off.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::delivery::DeliveryError;

/// Where Debian/Ubuntu, Fedora/RHEL, openSUSE and Alpine keep the system CA
/// bundle, tried in order when no `--ca-file` is given.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A client configuration trusting the CAs of `ca_file` (PEM), or of the
/// system bundle when `None`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, DeliveryError> {
    let path: PathBuf = match ca_file {
        Some(p) => p.to_path_buf(),
        None => SYSTEM_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| DeliveryError::Tls {
                path: PathBuf::from(SYSTEM_BUNDLES.first().copied().unwrap_or_default()),
                reason: "no system CA bundle found; give --ca-file".into(),
            })?,
    };
    let pem = fs::read(&path).map_err(|e| DeliveryError::Tls {
        path: path.clone(),
        reason: format!("cannot read CA file: {e}"),
    })?;
    let mut roots = RootCertStore::empty();
    let mut bad = 0usize;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        match cert {
            Ok(c) => {
                if roots.add(c).is_err() {
                    bad += 1;
                }
            }
            Err(_) => bad += 1,
        }
    }
    if roots.is_empty() {
        return Err(DeliveryError::Tls {
            path,
            reason: format!(
                "no usable CA certificate (PEM `BEGIN CERTIFICATE` blocks) in the file ({bad} unusable)"
            ),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliveryError::Tls {
            path: path.clone(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
