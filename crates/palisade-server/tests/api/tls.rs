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
