//! HTTPS and mutual TLS on the HTTP listener of `fhirgate serve`: with a certificate from the
//! configured client CA a hub is answered; without one it cannot connect; plain HTTP is not answered.
//! Certificates are made for the test with `openssl` (`harness::make_certificates`).

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn mutual_tls_admits_hubs_with_a_certificate_from_the_client_ca_only() {
    let dir = harness::scratch_dir("tls-certs");
    harness::make_certificates(&dir);
    let port = harness::free_port();
    let data = harness::scratch_dir("tls-data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .arg("serve")
        .env("FHIRGATE_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("FHIRGATE_HTTP__TLS_CERT", dir.join("server.pem"))
        .env("FHIRGATE_HTTP__TLS_KEY", dir.join("server.key"))
        .env("FHIRGATE_HTTP__CLIENT_CA", dir.join("ca.pem"))
        .env("FHIRGATE_MLLP__ENABLED", "false")
        .env("FHIRGATE_STORE__DATA_DIR", &data)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    fhirgate::tls::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut identity_pem = std::fs::read(dir.join("client.pem")).unwrap();
    identity_pem.extend(std::fs::read(dir.join("client.key")).unwrap());
    let with_certificate = reqwest::blocking::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(reqwest::Identity::from_pem(&identity_pem).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let without_certificate = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}");
    harness::wait_until("the HTTPS listener", Duration::from_secs(30), || {
        with_certificate.get(format!("{url}/healthz")).send().is_ok()
    });

    let payload =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ble/2A37-heart-rate.json")).unwrap();
    let answer = with_certificate
        .post(format!("{url}/ingest/ble"))
        .body(payload.clone())
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    assert!(
        without_certificate
            .post(format!("{url}/ingest/ble"))
            .body(payload.clone())
            .send()
            .is_err(),
        "no client certificate, no connection"
    );
    let plain = harness::http().get(format!("http://127.0.0.1:{port}/healthz")).send();
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served"
    );

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(child.wait().unwrap().success(), "stops cleanly on SIGTERM");
}

#[test]
fn an_open_address_needs_tokens_or_mutual_tls() {
    let run = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fhirgate"));
        command
            .arg("serve")
            .env("FHIRGATE_HTTP__LISTEN", "0.0.0.0:0")
            .env("FHIRGATE_MLLP__ENABLED", "false");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("mutual TLS (http.client_ca)"));
    let half = run(&[("FHIRGATE_HTTP__CLIENT_CA", "/nonexistent/ca.pem")]);
    assert_eq!(half.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&half.stderr).contains("needs http.tls_cert and http.tls_key"));
}
