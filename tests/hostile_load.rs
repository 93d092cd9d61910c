//! The listeners under hostile load (issue #16 items 1–3): slow and idle clients, bodies declared or
//! sent too large, senders without a token, connections beyond the cap, frames trickled a byte at a
//! time, accepting with no file descriptor left, and 32 pathological messages at once on each
//! transport, with the bridge's peak memory read from the kernel.

mod common;
mod harness;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fhirgate::config::{GatewayToken, HttpConfig};
use fhirgate::ingest::http::{self, HttpState};
use fhirgate::ingest::mllp::{self, MllpConfig};
use fhirgate::metrics::Metrics;
use fhirgate::pipeline::Pipeline;
use fhirgate::store::Outbox;
use sha2::{Digest, Sha256};

fn outbox(name: &str) -> Outbox {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    Outbox::open(&dir).unwrap()
}

/// An HTTP listener on its own runtime thread, with `config`'s limits.
fn http_listener(name: &str, config: HttpConfig) -> SocketAddr {
    let (ready, address) = std::sync::mpsc::channel();
    let store = outbox(name);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ready.send(listener.local_addr().unwrap()).unwrap();
            let metrics = Arc::new(Metrics::new());
            let router = http::router(HttpState {
                outbox: store,
                metrics: Arc::clone(&metrics),
                config: Arc::new(config.clone()),
                pipeline: Arc::new(Pipeline::new(common::settings())),
                associations: None,
            });
            let _ = http::serve(listener, router, &config, None, metrics, std::future::pending()).await;
        });
    });
    address.recv().unwrap()
}

/// An MLLP listener on its own runtime thread.
fn mllp_listener(name: &str, config: MllpConfig) -> SocketAddr {
    let (ready, address) = std::sync::mpsc::channel();
    let store = outbox(name);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ready.send(listener.local_addr().unwrap()).unwrap();
            let pipeline = Arc::new(Pipeline::new(common::settings()));
            let _ = mllp::serve(
                listener,
                store,
                pipeline,
                config,
                Default::default(),
                std::future::pending(),
            )
            .await;
        });
    });
    address.recv().unwrap()
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Everything the server sends until it closes the connection or `limit` passes.
fn answer(stream: &mut TcpStream, limit: Duration) -> String {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                text.extend_from_slice(&chunk[..n]);
                if text.windows(4).any(|w| w == b"\r\n\r\n") && !text.starts_with(b"HTTP/1.1 100") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&text).to_string()
}

fn status_of(answer: &str) -> u16 {
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// True when the server has closed `stream` (a read gives end of file) within `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0)) || matches!(stream.read(&mut byte), Ok(0))
}

const BLE: &str = include_str!("../fixtures/ble/2A37-heart-rate.json");

fn post(address: SocketAddr, token: Option<&str>, body: &str) -> u16 {
    let mut stream = connect(address);
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST /ingest/ble HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    status_of(&answer(&mut stream, Duration::from_secs(10)))
}

#[test]
fn a_declared_length_over_the_limit_is_refused_at_once_and_no_token_means_no_body_read() {
    let address = http_listener(
        "declared",
        HttpConfig {
            gateways: vec![GatewayToken {
                id: "hub-ward-7".into(),
                token_sha256: hex::encode(Sha256::digest(b"secret")),
            }],
            ..HttpConfig::default()
        },
    );
    // 10¹² bytes declared, none sent: 413 without waiting for any of them.
    let mut stream = connect(address);
    write!(
        stream,
        "POST /ingest/ble HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer secret\r\nContent-Length: 1000000000000\r\n\r\n"
    )
    .unwrap();
    let started = Instant::now();
    let reply = answer(&mut stream, Duration::from_secs(5));
    assert_eq!(status_of(&reply), 413, "{reply}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered without the body");
    // Without a token, a half-sent body is never waited for: 401 at once.
    let mut stream = connect(address);
    write!(
        stream,
        "POST /ingest/ble HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500000\r\n\r\n{{\"gateway\":"
    )
    .unwrap();
    let started = Instant::now();
    let reply = answer(&mut stream, Duration::from_secs(5));
    assert_eq!(status_of(&reply), 401, "{reply}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered without the body");
    assert_eq!(post(address, Some("secret"), BLE), 202);
}

#[test]
fn idle_connections_are_cut_after_the_header_deadline_and_the_cap_answers_503() {
    let address = http_listener(
        "idle",
        HttpConfig {
            max_connections: 8,
            header_timeout_secs: 1,
            ..HttpConfig::default()
        },
    );
    // Eight connections that send nothing (half-open hubs, an attacker) fill the cap...
    let mut idle: Vec<TcpStream> = (0..8).map(|_| connect(address)).collect();
    std::thread::sleep(Duration::from_millis(200));
    // ...so the ninth is told at once, not queued.
    let mut ninth = connect(address);
    let reply = answer(&mut ninth, Duration::from_secs(5));
    assert_eq!(status_of(&reply), 503, "{reply}");
    assert!(reply.contains("Retry-After: 1"), "{reply}");
    // One that sends half its headers and stops is cut too.
    write!(idle[0], "POST /ingest/ble HTTP/1.1\r\nHost: 127.0").unwrap();
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(5)),
            "an idle connection outlives the header deadline"
        );
    }
    // With them gone, a hub gets through.
    assert_eq!(post(address, None, BLE), 202);
}

/// Starts a request whose body arrives a byte every 300 ms (minutes for the whole of it).
fn trickle(address: SocketAddr, body: &'static [u8]) -> (TcpStream, std::thread::JoinHandle<()>) {
    let mut stream = connect(address);
    write!(
        stream,
        "POST /ingest/ble HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        for byte in body {
            if writer.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    (stream, sending)
}

#[test]
fn a_trickled_body_is_answered_408_and_a_full_budget_503() {
    let body = BLE.as_bytes();
    let address = http_listener(
        "slow",
        HttpConfig {
            body_timeout_secs: 1,
            max_body_bytes: body.len(),
            max_buffered_bytes: body.len(),
            ..HttpConfig::default()
        },
    );
    // The budget holds one body: a trickled one takes it, a second trickled one waits for it and
    // takes it when the first is cut, and a third, waiting behind both, is told to come back.
    let (mut first, first_sending) = trickle(address, BLE.as_bytes());
    std::thread::sleep(Duration::from_millis(150));
    let (mut second, second_sending) = trickle(address, BLE.as_bytes());
    std::thread::sleep(Duration::from_millis(150));
    let mut third = connect(address);
    write!(
        third,
        "POST /ingest/ble HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    third.write_all(body).unwrap();
    let reply = answer(&mut third, Duration::from_secs(10));
    assert_eq!(status_of(&reply), 503, "{reply}");
    assert!(
        reply.contains("max_buffered_bytes") && reply.contains("retry-after: 1"),
        "{reply}"
    );
    for stream in [&mut first, &mut second] {
        let reply = answer(stream, Duration::from_secs(10));
        assert_eq!(status_of(&reply), 408, "{reply}");
        assert!(reply.contains("body_timeout_secs"), "{reply}");
    }
    drop((first, second));
    let _ = (first_sending.join(), second_sending.join());
    // The budget is free again.
    assert_eq!(post(address, None, BLE), 202);
}

#[test]
fn a_trickled_mllp_frame_is_cut_at_its_deadline_and_connections_are_capped() {
    let address = mllp_listener(
        "trickle",
        MllpConfig {
            frame_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            max_connections: 3,
            ..MllpConfig::default()
        },
    );
    // A byte every 300 ms never lets the idle timeout fire; the frame deadline does.
    let mut trickler = connect(address);
    let started = Instant::now();
    let writer = {
        let mut writer = trickler.try_clone().unwrap();
        std::thread::spawn(move || {
            let frame = b"\x0bMSH|^~\\&|A|B|||20261121100000||ORU^R01|1|P|2.6\rPID|||1";
            for byte in frame {
                if writer.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    assert!(
        closed_within(&mut trickler, Duration::from_secs(6)),
        "the trickled frame was not cut"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut after {:?}",
        started.elapsed()
    );
    let _ = writer.join();
    // Three connections fill the cap; the fourth is closed at once; the three still work.
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(address)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = connect(address);
    assert!(
        closed_within(&mut fourth, Duration::from_secs(3)),
        "the fourth connection was kept"
    );
    let message = std::fs::read(common::repo_path(
        "fixtures/hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7",
    ))
    .unwrap();
    let mut framed = vec![0x0B];
    framed.extend_from_slice(&message);
    framed.extend_from_slice(&[0x1C, 0x0D]);
    held[0].write_all(&framed).unwrap();
    let mut ack = [0u8; 2048];
    let n = held[0].read(&mut ack).unwrap();
    assert!(String::from_utf8_lossy(&ack[..n]).contains("MSA|AA|"));
}

/// CPU seconds the process has used (user and system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks: f64 = fields
        .get(11..13)
        .unwrap()
        .iter()
        .map(|f| f.parse::<f64>().unwrap())
        .sum();
    ticks / 100.0
}

/// Out of file descriptors, the accept loops wait instead of spinning: the bridge, limited to 64
/// descriptors and held at the limit by idle connections, uses a fraction of a core, not all of it.
#[test]
fn with_no_file_descriptor_left_the_listeners_wait_instead_of_spinning() {
    let env = [
        ("FHIRGATE_HTTP__MAX_CONNECTIONS", "1000".to_string()),
        ("FHIRGATE_MLLP__MAX_CONNECTIONS", "1000".to_string()),
        ("FHIRGATE_HTTP__HEADER_TIMEOUT_SECS", "60".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ];
    let bridge = harness::Bridge::start_wrapped("nofile", &env, &["prlimit", "--nofile=64:64", "--"]);
    let pid = bridge.pid().unwrap();
    let mut held = Vec::new();
    for port in [bridge.http_port, bridge.mllp_port] {
        for _ in 0..60 {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                held.push(stream);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let (cpu_before, wall) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = (cpu_seconds(pid) - cpu_before) / wall.elapsed().as_secs_f64();
    assert!(
        used < 0.3,
        "the bridge used {:.0} % of a core while out of descriptors",
        used * 100.0
    );
    assert!(bridge.log().contains("cannot accept connections"), "{}", bridge.log());
    drop(held);
}

/// Peak resident memory of a process, from /proc (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

const MIB: usize = 1 << 20;

/// The documented bound (README, "Limits"): the bridge's peak memory under 32 parallel 1 MiB
/// pathological messages on HTTP and 32 on MLLP at once.
const PEAK_BOUND: u64 = 300 * MIB as u64;

/// 32 parallel megabyte messages on each transport, of the shapes that cost most: a field of a
/// million repetitions (it took 257 MB to parse before), and a megabyte of observations refused at
/// its last row (the whole check runs). The bridge's peak resident memory stays under the bound.
#[test]
fn thirty_two_pathological_megabytes_at_once_on_each_transport_stay_under_the_bound() {
    let header = "MSH|^~\\&|GW|FAC|||20261121100000||ORU^R01^ORU_R01|1|P|2.6\r";
    let repetitions = {
        let mut m = header.as_bytes().to_vec();
        m.extend_from_slice(b"OBX|1|NM|");
        m.extend(std::iter::repeat_n(b'~', MIB - 100));
        m
    };
    let observations = {
        let mut m = header.as_bytes().to_vec();
        m.extend_from_slice(
            b"PID|||4711^^^H&1.2.3&ISO^MR\rOBR|1|||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|||20261121100000\r",
        );
        m.extend_from_slice(
            b"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0012211839000003^EUI-64\r",
        );
        let mut n = 2;
        while m.len() < MIB - 200 {
            m.extend_from_slice(
                format!(
                    "OBX|{n}|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.{n}|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r"
                )
                .as_bytes(),
            );
            n += 1;
        }
        m.extend_from_slice(
            b"OBX|99999|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.99999|eighty|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r",
        );
        m
    };
    let env = [("RUST_LOG", "warn".to_string())];
    let bridge = harness::Bridge::start("pathological", &env);
    let pid = bridge.pid().unwrap();
    let baseline = peak_rss(pid);
    let (http_port, mllp_port) = (bridge.http_port, bridge.mllp_port);
    let senders: Vec<_> = (0..64)
        .map(|i| {
            let message = if i % 2 == 0 { repetitions.clone() } else { observations.clone() };
            std::thread::spawn(move || {
                if i < 32 {
                    let mut stream = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
                    write!(
                        stream,
                        "POST /ingest/hl7v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        message.len()
                    )
                    .unwrap();
                    stream.write_all(&message).unwrap();
                    let status = status_of(&answer(&mut stream, Duration::from_secs(120)));
                    assert!(status == 400 || status == 503, "HTTP {status}");
                } else {
                    let mut stream = TcpStream::connect(("127.0.0.1", mllp_port)).unwrap();
                    let mut framed = vec![0x0B];
                    framed.extend_from_slice(&message);
                    framed.extend_from_slice(&[0x1C, 0x0D]);
                    stream.write_all(&framed).unwrap();
                    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                    let mut ack = [0u8; 2048];
                    let n = stream.read(&mut ack).unwrap();
                    assert!(String::from_utf8_lossy(&ack[..n]).contains("MSA|AE|"));
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let peak = peak_rss(pid);
    println!(
        "baseline {} MiB, peak {} MiB under 64 pathological megabytes",
        baseline / MIB as u64,
        peak / MIB as u64
    );
    assert!(peak < PEAK_BOUND, "peak resident memory {} MiB", peak / MIB as u64);
    // And the bridge still answers.
    assert_eq!(post(SocketAddr::from(([127, 0, 0, 1], http_port)), None, BLE), 202);
}
