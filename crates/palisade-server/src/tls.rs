//! Local TLS: a CA generated on first start, a server certificate for `localhost`, `127.0.0.1` and
//! `::1` signed by it, and a CA bundle (the system's CAs plus ours) that clients can point
//! `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE` at. MSAL and azure-identity refuse `http://` authorities,
//! so this is what lets them sign in against Palisade.

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("certificate files: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate files in {0} are unreadable")]
    Unreadable(PathBuf),
}

/// Where the TLS material lives inside the data directory.
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub ca_bundle: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    /// Which certificate profile the files were generated with (see [`CERT_PROFILE`]).
    profile: PathBuf,
}

impl TlsFiles {
    /// Paths are absolute, so that what is printed or returned works from any directory.
    pub fn in_dir(data_dir: &Path) -> Self {
        let dir = std::path::absolute(data_dir)
            .unwrap_or_else(|_| data_dir.to_path_buf())
            .join("tls");
        TlsFiles {
            ca_cert: dir.join("ca.pem"),
            ca_bundle: dir.join("ca-bundle.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            profile: dir.join("profile"),
        }
    }
}

/// The certificate profile generated today. Files from an older profile are regenerated on start:
/// the first release's certificates lacked the authority key identifier, and Python 3.13 refuses them.
const CERT_PROFILE: &str = "rfc5280-aki-ski-2";
/// Browsers and Apple platforms refuse server certificates valid for longer than this.
const SERVER_CERT_DAYS: u64 = 397;
/// Regenerate once the files are older than this, well before the certificate expires.
const REGENERATE_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

/// System CA bundles, in the order they are looked for.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

/// Makes sure the CA, server certificate and CA bundle exist (generating them when missing or
/// ageing) and returns the server's rustls configuration.
///
/// Processes started at once on one data directory take turns (see [`DirLock`]), so one of them
/// generates and the others read what it wrote, never a key of one with the certificate of another.
pub fn ensure(data_dir: &Path) -> Result<(Arc<rustls::ServerConfig>, TlsFiles), TlsError> {
    let files = TlsFiles::in_dir(data_dir);
    let _turn = DirLock::take(&files)?;
    if needs_generation(&files) {
        generate(&files)?;
    }
    write_bundle(&files)?;
    let config = server_config(&files)?;
    Ok((config, files))
}

/// A lock file beside the TLS files, created exclusively (`create_new`) and removed when dropped:
/// the turn of one process at preparing them. A lock file older than [`STALE_LOCK`] is taken to be
/// left by a killed process and removed.
struct DirLock(PathBuf);

const STALE_LOCK: Duration = Duration::from_secs(30);

impl DirLock {
    fn take(files: &TlsFiles) -> std::io::Result<DirLock> {
        let dir = files.ca_cert.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let path = dir.join("prepare.lock");
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(DirLock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn needs_generation(files: &TlsFiles) -> bool {
    let age = std::fs::metadata(&files.server_cert)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    let current_profile = std::fs::read_to_string(&files.profile).is_ok_and(|p| p.trim() == CERT_PROFILE);
    match age {
        Some(age) => {
            age > REGENERATE_AFTER || !current_profile || !files.server_key.exists() || !files.ca_cert.exists()
        }
        None => true,
    }
}

fn generate(files: &TlsFiles) -> Result<(), TlsError> {
    if let Some(dir) = files.ca_cert.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let now = time_now();
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("Palisade Local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // RFC 5280 profile, as strict verifiers (Python 3.13's VERIFY_X509_STRICT, `openssl verify
    // -x509_strict`) demand: the CA carries a critical basicConstraints, keyCertSign and a subject key
    // identifier (rcgen writes both for a CA); every certificate names its issuer's key (AKI).
    ca_params.use_authority_key_identifier_extension = true;
    ca_params.not_before = now - one_day();
    ca_params.not_after = now + days(SERVER_CERT_DAYS + 30);
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;

    let mut server_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    server_params.distinguished_name = name("localhost");
    // ECDSA keys sign; keyEncipherment is for RSA key transport and does not belong here.
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // `ExplicitNoCa` writes basicConstraints CA:FALSE and the subject key identifier.
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.use_authority_key_identifier_extension = true;
    server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    server_params.not_before = now - one_day();
    server_params.not_after = now + days(SERVER_CERT_DAYS);
    let server_key = KeyPair::generate()?;
    let server = server_params.signed_by(&server_key, &ca, &ca_key)?;

    write_private(&files.server_key, &server_key.serialize_pem())?;
    // The chain a client receives: the server certificate, then the CA.
    std::fs::write(&files.server_cert, format!("{}{}", server.pem(), ca.pem()))?;
    std::fs::write(&files.ca_cert, ca.pem())?;
    std::fs::write(&files.profile, CERT_PROFILE)?;
    // The CA's key is not kept: nothing else will ever be signed with it.
    Ok(())
}

/// The bundle is rebuilt on every start so that system CA updates flow into it.
fn write_bundle(files: &TlsFiles) -> Result<(), TlsError> {
    let ca = std::fs::read_to_string(&files.ca_cert)?;
    let system = SYSTEM_BUNDLES
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let mut bundle = system;
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str("# Palisade Local CA\n");
    bundle.push_str(&ca);
    let tmp = files
        .ca_bundle
        .with_extension(format!("pem.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bundle)?;
    std::fs::rename(tmp, &files.ca_bundle)?;
    Ok(())
}

fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let unreadable = || TlsError::Unreadable(files.server_cert.parent().unwrap_or(Path::new(".")).to_path_buf());
    let chain: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(&files.server_cert)?))
            .collect::<Result<_, _>>()
            .map_err(|_| unreadable())?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(&files.server_key)?))
            .map_err(|_| unreadable())?
            .ok_or_else(unreadable)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Palisade emulator");
    dn
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn one_day() -> time::Duration {
    days(1)
}

fn days(n: u64) -> time::Duration {
    time::Duration::days(n as i64)
}
