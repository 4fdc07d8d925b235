//! Point 6: HTTPS with a locally generated CA, and a CA bundle clients can point at.

use palisade_testkit::*;

#[tokio::test]
async fn https_is_trusted_through_the_generated_ca_for_localhost_and_127_0_0_1() {
    let app = TestApp::spawn().await;
    let port = app.https.rsplit(':').next().unwrap().to_string();
    for host in ["127.0.0.1", "localhost"] {
        let response = app
            .client
            .get(format!("https://{host}:{port}/_palisade/health"))
            .send()
            .await;
        assert_eq!(response.expect(host).status(), 200, "{host}");
    }
}

#[tokio::test]
async fn ca_bundle_holds_system_cas_and_ours() {
    let app = TestApp::spawn().await;
    let tls_dir = app.data_dir().join("tls");
    let bundle = std::fs::read_to_string(tls_dir.join("ca-bundle.pem")).unwrap();
    let ca = std::fs::read_to_string(tls_dir.join("ca.pem")).unwrap();
    assert!(bundle.contains(ca.trim()), "our CA is in the bundle");
    let system_has_cas = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists();
    if system_has_cas {
        assert!(
            bundle.matches("BEGIN CERTIFICATE").count() > 10,
            "system CAs are in the bundle"
        );
    }
    // A client trusting exactly the certificates of the bundle file reaches the server.
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false);
    for certificate in reqwest::Certificate::from_pem_bundle(bundle.as_bytes()).unwrap() {
        builder = builder.add_root_certificate(certificate);
    }
    let client = builder.build().unwrap();
    assert_eq!(
        client
            .get(format!("{}/_palisade/health", app.https))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_client_not_trusting_the_ca_is_refused() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(client
        .get(format!("{}/_palisade/health", app.https))
        .send()
        .await
        .is_err());
}

/// Runs a verifier program; it must exist (it ships with the machine image) and succeed.
fn run_verifier(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed for the strict TLS checks: {e}"))
}

#[tokio::test]
async fn certificates_pass_openssls_strict_rfc5280_verification() {
    let app = TestApp::spawn().await;
    let tls_dir = app.data_dir().join("tls");
    let ca = tls_dir.join("ca.pem");
    // `server.pem` holds the chain; `openssl verify` checks its first certificate, the server's.
    let server = tls_dir.join("server.pem");
    let (ca, server) = (ca.to_str().unwrap(), server.to_str().unwrap());
    let strict = ["verify", "-x509_strict", "-CAfile", ca, server];
    let as_tls_server = [
        "verify",
        "-x509_strict",
        "-CAfile",
        ca,
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
        server,
    ];
    for args in [&strict[..], &as_tls_server[..]] {
        let out = run_verifier("openssl", args);
        assert!(
            out.status.success(),
            "openssl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The CA itself is a proper CA under the strict profile.
    let out = run_verifier("openssl", &["verify", "-x509_strict", "-CAfile", ca, ca]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn python_with_verify_x509_strict_completes_the_handshake() {
    // Python 3.13 sets VERIFY_X509_STRICT by default; setting it on the machine's Python has the
    // same effect (it is OpenSSL's X509_V_FLAG_X509_STRICT).
    let app = TestApp::spawn().await;
    let ca = app.data_dir().join("tls").join("ca.pem");
    let port = app.https.rsplit(':').next().unwrap().to_string();
    let script = r#"
import ssl, socket, sys
ca, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=ca)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
for host in ("localhost", "127.0.0.1"):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"GET /_palisade/health HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
            status = tls.recv(64).split(b"\r\n")[0]
            assert status.endswith(b"200 OK"), status
print("strict ok")
"#;
    let out =
        tokio::task::spawn_blocking(move || run_verifier("python3", &["-c", script, ca.to_str().unwrap(), &port]))
            .await
            .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("strict ok"),
        "python strict TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn curl_trusting_only_the_ca_reaches_the_server() {
    let app = TestApp::spawn().await;
    let ca = app.data_dir().join("tls").join("ca.pem");
    let url = format!("{}/_palisade/health", app.https.replace("127.0.0.1", "localhost"));
    let out = tokio::task::spawn_blocking(move || {
        run_verifier("curl", &["-sS", "--fail", "--cacert", ca.to_str().unwrap(), &url])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn certificates_of_an_older_profile_are_regenerated_on_start() {
    let app = TestApp::spawn().await;
    let tls_dir = app.data_dir().join("tls");
    let before = std::fs::read_to_string(tls_dir.join("ca.pem")).unwrap();
    let app = app
        .restart_with(|dir| std::fs::remove_file(dir.join("tls").join("profile")).unwrap())
        .await;
    let after = std::fs::read_to_string(tls_dir.join("ca.pem")).unwrap();
    assert_ne!(
        before, after,
        "a data directory without the current profile gets new certificates"
    );
    let app = app.restart_with(|_| {}).await;
    assert_eq!(
        after,
        std::fs::read_to_string(tls_dir.join("ca.pem")).unwrap(),
        "current ones are kept"
    );
    assert_eq!(
        app.client
            .get(format!("{}/_palisade/health", app.https))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
