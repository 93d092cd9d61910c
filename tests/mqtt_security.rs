//! MQTT ingest against a mosquitto broker that demands TLS and a password: with the CA and the right
//! credentials the bridge connects and stores what hubs publish; with a wrong password the broker
//! refuses it and nothing is taken. Certificates are made for the test with `openssl`.

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::{Bridge, Broker};

#[test]
fn the_bridge_uses_tls_and_a_password_and_a_wrong_password_is_refused() {
    let mut ca_file = None;
    let Some(broker) = Broker::start_with("secure", |port, dir| {
        harness::make_certificates(dir);
        let status = Command::new("mosquitto_passwd")
            .args([
                "-c",
                "-b",
                dir.join("passwords").to_str().unwrap(),
                "fhirgate",
                "s3cret",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        ca_file = Some(dir.join("ca.pem"));
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\ncafile {}\ncertfile {}\nkeyfile {}\n",
            dir.join("passwords").display(),
            dir.join("ca.pem").display(),
            dir.join("server.pem").display(),
            dir.join("server.key").display(),
        )
    }) else {
        return;
    };
    let ca_file = ca_file.unwrap();
    let env = |password: &str| {
        vec![
            ("FHIRGATE_MQTT__ENABLED", "true".to_string()),
            ("FHIRGATE_MQTT__PORT", broker.port.to_string()),
            ("FHIRGATE_MQTT__TLS", "true".to_string()),
            ("FHIRGATE_MQTT__CA_FILE", ca_file.display().to_string()),
            ("FHIRGATE_MQTT__USERNAME", "fhirgate".to_string()),
            ("FHIRGATE_MQTT__PASSWORD", password.to_string()),
        ]
    };

    let mut refused = Bridge::start("secure-refused", &{
        let mut env = env("wrong");
        env.push(("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-wrong".into()));
        env
    });
    harness::wait_until("the refusal", Duration::from_secs(20), || {
        refused.log().contains("MQTT connection lost")
    });
    assert!(!refused.log().contains("connected to the MQTT broker"));
    assert!(
        !refused.log().contains("s3cret") && !refused.log().contains("wrong"),
        "no password in the log"
    );
    refused.terminate();

    let mut env = env("s3cret");
    env.push(("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-right".into()));
    let bridge = Bridge::start("secure-right", &env);
    bridge.wait_for_subscription();
    assert!(bridge.log().contains("connected to the MQTT broker"));
    let payload = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ble/2A9D-weight.json")).unwrap();
    broker.publish_with(
        &["--cafile", ca_file.to_str().unwrap(), "-u", "fhirgate", "-P", "s3cret"],
        "hubs/ward-7/ble",
        &payload,
    );
    harness::wait_until("the message in the outbox", Duration::from_secs(20), || {
        bridge.metric("fhirgate_accepted_total") >= 1.0
    });
    // No FHIR server configured: delivered into the embedded destination.
    let files = bridge.dir.join("data/fhir/Observation.ndjson");
    harness::wait_until("the weight in the files", Duration::from_secs(20), || {
        std::fs::read_to_string(&files).is_ok_and(|text| text.contains("29463-7"))
    });
    assert_eq!(bridge.outbox_depth(), 0);
}
