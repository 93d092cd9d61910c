//! The MLLP listener over real loopback sockets: `AA` only for what is stored, `AE`/`AR` with an ERR
//! segment otherwise; split frames, several frames in one read, clients that hang up mid-message,
//! oversize messages and concurrent connections; and `fhirgate serve` as a process, stopped by
//! SIGTERM, with the message still in its store afterwards.

mod common;
mod harness;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fhirgate::ingest::mllp::{self, MllpConfig};
use fhirgate::store::Outbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0B];
    out.extend_from_slice(message);
    out.extend_from_slice(&[0x1C, 0x0D]);
    out
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(common::repo_path(&format!("fixtures/hl7v2/{name}.hl7"))).unwrap()
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mllp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

struct Server {
    addr: SocketAddr,
    outbox: Outbox,
    stop: Option<oneshot::Sender<()>>,
}

async fn start(name: &str, config: MllpConfig) -> Server {
    let outbox = Outbox::open(&data_dir(name)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = outbox.clone();
    tokio::spawn(async move {
        let pipeline = Arc::new(fhirgate::pipeline::Pipeline::new(common::settings()));
        mllp::serve(listener, serving, pipeline, config, Default::default(), async {
            let _ = stopped.await;
        })
        .await
    });
    Server {
        addr,
        outbox,
        stop: Some(stop),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Reads `count` ACK frames and returns their texts.
async fn read_acks(stream: &mut TcpStream, count: usize) -> Vec<String> {
    let mut buffer = Vec::new();
    let mut acks = Vec::new();
    let mut chunk = [0u8; 4096];
    while acks.len() < count {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed after {} ACKs", acks.len());
        buffer.extend_from_slice(&chunk[..n]);
        while let Some(end) = buffer.windows(2).position(|w| w == [0x1C, 0x0D]) {
            assert_eq!(buffer[0], 0x0B, "ACK not framed");
            acks.push(String::from_utf8(buffer[1..end].to_vec()).unwrap());
            buffer.drain(..end + 2);
        }
    }
    acks
}

fn msa(ack: &str) -> (&str, &str) {
    let line = ack.split('\r').find(|l| l.starts_with("MSA|")).expect("MSA segment");
    let mut parts = line.split('|').skip(1);
    (parts.next().unwrap(), parts.next().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_observation_is_stored_before_it_is_acknowledged() {
    let server = start("accept", MllpConfig::default()).await;
    let message = example("ihe_pcd01_physio_monitor_philips_example");
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&frame(&message)).await.unwrap();
    let acks = read_acks(&mut stream, 1).await;
    assert_eq!(msa(&acks[0]), ("AA", "HP0122182658686QQ000CND119C0WS61"));
    assert!(
        acks[0].starts_with("MSH|^~\\&|FHIRGATE|FHIRGATE|PAT_DEVICE_PHILIPS_C|Philips|"),
        "{}",
        acks[0]
    );
    assert!(acks[0].contains("|ACK^R01^ACK|"));
    // When AA arrives the message is already in the store, byte for byte.
    let stored = server.outbox.pending(10).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.payload, message);
    assert_eq!(stored[0].1.adapter, "hl7v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frames_in_one_write_and_a_frame_split_byte_by_byte() {
    let server = start("split", MllpConfig::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut both = frame(&example("ihe_pcd01_episodic_nibp_acme_gateway_example"));
    both.extend(frame(&example("ihe_pcd04_acm_mindray_low_spo2_alarm_start_example")));
    stream.write_all(&both).await.unwrap();
    let acks = read_acks(&mut stream, 2).await;
    assert_eq!(msa(&acks[0]), ("AA", "0104ef190d604db188c3"));
    assert_eq!(msa(&acks[1]), ("AA", "1"));
    for byte in frame(&example("ihe_pcd10_iec_infusion_delivery_start_example")) {
        stream.write_all(&[byte]).await.unwrap();
        stream.flush().await.unwrap();
    }
    let acks = read_acks(&mut stream, 1).await;
    assert_eq!(msa(&acks[0]), ("AA", "6358051206735492253"));
    assert_eq!(server.outbox.len().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_foreign_messages_are_answered_and_not_stored() {
    let server = start("refuse", MllpConfig::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Not HL7 at all.
    stream.write_all(&frame(b"hello")).await.unwrap();
    let ack = &read_acks(&mut stream, 1).await[0];
    assert_eq!(msa(ack).0, "AE");
    assert!(
        ack.contains("ERR|||102^Data type error^HL70357|E||||HL7 v2 message"),
        "{ack}"
    );
    // A device report whose OBX has a non-numeric code: AE naming segment and field.
    let bad = b"MSH|^~\\&|GW|X|||20261121100000+0100||ORU^R01|BAD1|P|2.6\rOBR|1|||x|||20261121100000\rOBX|1|NM|abc^X^MDC|1.1.1.1|5\r";
    stream.write_all(&frame(bad)).await.unwrap();
    let ack = &read_acks(&mut stream, 1).await[0];
    assert_eq!(msa(ack), ("AE", "BAD1"));
    assert!(ack.contains("segment 3 (OBX) field 3"), "{ack}");
    // An order (PCD-03): rejected as unsupported, not mapped.
    stream
        .write_all(&frame(&example("ihe_pcd03_rgv_o15_dopamine_example1")))
        .await
        .unwrap();
    let ack = &read_acks(&mut stream, 1).await[0];
    assert_eq!(msa(ack).0, "AR");
    assert!(ack.contains("200^Unsupported message type^HL70357"), "{ack}");
    assert!(ack.contains("|ACK^O15^ACK|"), "{ack}");
    assert_eq!(server.outbox.len().unwrap(), 0, "nothing refused is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_mid_message_stores_nothing_and_harms_no_one() {
    let server = start("hangup", MllpConfig::default()).await;
    let message = frame(&example("ihe_pcd01_dec_soap_wan_bp_example"));
    {
        let mut quitter = TcpStream::connect(server.addr).await.unwrap();
        quitter.write_all(&message[..message.len() / 2]).await.unwrap();
    }
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&message).await.unwrap();
    assert_eq!(msa(&read_acks(&mut stream, 1).await[0]).0, "AA");
    assert_eq!(server.outbox.len().unwrap(), 1, "only the complete message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_is_rejected_and_the_connection_closed() {
    let server = start(
        "oversize",
        MllpConfig {
            max_message_bytes: 500,
            ..MllpConfig::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&frame(&example("ihe_pcd01_physio_monitor_philips_example")))
        .await
        .unwrap();
    let ack = &read_acks(&mut stream, 1).await[0];
    assert_eq!(msa(ack).0, "AR");
    assert!(ack.contains("exceeds 500 bytes"), "{ack}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(
        closed.is_ok() && rest.is_empty(),
        "connection closed after the rejection"
    );
    assert_eq!(server.outbox.len().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_each_get_their_acks() {
    let server = start("concurrent", MllpConfig::default()).await;
    let message = example("ihe_pcd01_episodic_nibp_acme_gateway_example");
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.addr;
            let message = message.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let mut frames = Vec::new();
                for _ in 0..5 {
                    frames.extend(frame(&message));
                }
                stream.write_all(&frames).await.unwrap();
                read_acks(&mut stream, 5).await
            })
        })
        .collect();
    for client in clients {
        let acks = client.await.unwrap();
        assert!(acks.iter().all(|ack| msa(ack).0 == "AA"));
    }
    assert_eq!(server.outbox.len().unwrap(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhirgate_serve_accepts_and_keeps_the_message_across_sigterm() {
    let dir = data_dir("process");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .arg("serve")
        .env("FHIRGATE_MLLP__LISTEN", &listen)
        .env("FHIRGATE_STORE__DATA_DIR", &dir)
        .env("FHIRGATE_HTTP__ENABLED", "false")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = loop {
        match TcpStream::connect(&listen).await {
            Ok(stream) => break stream,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    stream
        .write_all(&frame(&example("ihe_pcd01_dec_soap_wan_bp_example")))
        .await
        .unwrap();
    assert_eq!(msa(&read_acks(&mut stream, 1).await[0]), ("AA", "MSGID1234"));
    drop(stream);
    // SIGTERM, as a service manager stops the bridge.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
    // With no FHIR server configured the bridge delivers into its embedded destination: the
    // acknowledged message is there, or still in the outbox if the stop came first.
    let outbox = Outbox::open(&dir).unwrap();
    let pending = outbox.pending(10).unwrap().len();
    let delivered = std::fs::read_to_string(dir.join("fhir/Observation.ndjson"))
        .map(|text| text.lines().filter(|l| l.contains("150021")).count())
        .unwrap_or(0);
    assert!(
        (pending, delivered) == (1, 0) || (pending, delivered) == (0, 1),
        "the acknowledged message survived the shutdown once: {pending} pending, {delivered} delivered"
    );

    // Binding a non-loopback address is refused.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .arg("serve")
        .env("FHIRGATE_MLLP__LISTEN", "0.0.0.0:0")
        .env("FHIRGATE_STORE__DATA_DIR", &dir)
        .env("FHIRGATE_HTTP__ENABLED", "false")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("beyond loopback it needs mutual TLS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_shutdown_the_message_in_flight_is_finished_and_idle_connections_close() {
    let mut server = start("shutdown", MllpConfig::default()).await;
    let message = frame(&example("ihe_pcd01_dec_soap_wan_bp_example"));
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(&message[..40]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = server.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The idle connection is closed at once.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "idle connection closed on shutdown: {closed:?}"
    );
    // The message in flight is completed, stored and acknowledged; then that connection closes too.
    busy.write_all(&message[40..]).await.unwrap();
    assert_eq!(msa(&read_acks(&mut busy, 1).await[0]).0, "AA");
    let closed = tokio::time::timeout(Duration::from_secs(5), busy.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "busy connection closed after its message: {closed:?}"
    );
    assert_eq!(server.outbox.len().unwrap(), 1);
}

/// A TLS client for 127.0.0.1 trusting the test CA, with the test client certificate or without.
fn tls_client(dir: &std::path::Path, with_certificate: bool) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    fhirgate::tls::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = if with_certificate {
        let chain = vec![CertificateDer::from_pem_file(dir.join("client.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(dir.join("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends one framed message over TLS and returns the ACK text, or `None` if the connection failed.
async fn send_over_tls(addr: SocketAddr, connector: &tokio_rustls::TlsConnector, message: &[u8]) -> Option<String> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let name = rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let mut secured = connector.connect(name, stream).await.ok()?;
    secured.write_all(&frame(message)).await.ok()?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.ends_with(&[0x1C, 0x0D]) {
        let n = tokio::time::timeout(Duration::from_secs(10), secured.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buffer).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_mutual_tls_only_gateways_with_a_certificate_are_answered() {
    let dir = harness::scratch_dir("mllp-tls");
    harness::make_certificates(&dir);
    let tls = fhirgate::tls::server_config(
        Some(&dir.join("server.pem")),
        Some(&dir.join("server.key")),
        Some(&dir.join("ca.pem")),
        &[],
    )
    .unwrap();
    let server = start(
        "tls",
        MllpConfig {
            tls,
            ..MllpConfig::default()
        },
    )
    .await;
    let message = example("ihe_pcd01_dec_soap_wan_bp_example");
    let ack = send_over_tls(server.addr, &tls_client(&dir, true), &message)
        .await
        .expect("a gateway with a certificate is answered");
    assert!(ack.contains("MSA|AA|MSGID1234"), "{ack}");
    assert_eq!(server.outbox.len().unwrap(), 1);
    assert_eq!(
        send_over_tls(server.addr, &tls_client(&dir, false), &message).await,
        None,
        "without a client certificate, no answer"
    );
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain.write_all(&frame(&message)).await.unwrap();
    let mut chunk = [0u8; 64];
    let answered = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut chunk)).await;
    assert!(
        !matches!(answered, Ok(Ok(n)) if n > 0 && chunk[..n].contains(&0x0B)),
        "plain MLLP gets no ACK"
    );
    assert_eq!(
        server.outbox.len().unwrap(),
        1,
        "nothing but the authenticated message was stored"
    );
}
