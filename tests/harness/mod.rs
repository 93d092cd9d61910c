//! Real components for the end-to-end tests: the Helios FHIR server (`hfs`), a mosquitto broker and
//! the `fhirgate` binary, each a child process on 127.0.0.1 with a port of its own.
//!
//! `.ci/run` installs hfs (`.ci/install-fhir-server`) and mosquitto, and sets `FHIRGATE_REQUIRE_E2E=1`
//! so that a missing component fails the run. Elsewhere a test whose component is missing says so on
//! stderr and returns.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Weight reading `n` of hub `hub` for patient `patient`: a weight of its own at its own second of
/// the device's day (distinct dedup identifiers up to 57,600), and the time part of its identifier
/// (the device's local time). For the load and chaos benches, which count readings on the server.
pub fn distinct_weight_reading(n: u32, hub: &str, patient: &str) -> (Vec<u8>, String) {
    let raw = 10000 + n % 20000;
    let (hour, minute, second) = (8 + n / 3600, (n / 60) % 60, n % 60);
    let value = format!(
        "02{:02x}{:02x}ea070810{:02x}{:02x}{:02x}",
        raw & 0xFF,
        (raw >> 8) & 0xFF,
        hour,
        minute,
        second
    );
    let payload = serde_json::json!({
        "gateway": { "id": hub },
        "device": { "address": "C4:7C:8D:6A:1F:20" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": patient },
        "characteristic": "2A9D",
        "value": value,
        "receivedAt": "2026-11-21T10:00:00Z",
        "utcOffset": "+01:00"
    })
    .to_string();
    (payload.into_bytes(), format!("20260816{hour:02}{minute:02}{second:02}"))
}

/// A port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn required() -> bool {
    std::env::var("FHIRGATE_REQUIRE_E2E").is_ok_and(|v| v == "1")
}

/// The path of a component's program, or `None` (after saying so) when it is not installed here.
fn component(name: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    let found = candidates.iter().find(|p| p.is_file()).cloned();
    if found.is_none() {
        assert!(
            !required(),
            "{name} is not installed ({candidates:?}) but FHIRGATE_REQUIRE_E2E=1"
        );
        eprintln!("SKIPPED: {name} is not installed ({candidates:?}); run .ci/run to install it");
    }
    found
}

fn tools_dir() -> PathBuf {
    std::env::var_os("FHIRGATE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/fhirgate/tools"))
}

/// Polls `ready` every 100 ms until it is true or `limit` passes.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn http() -> reqwest::blocking::Client {
    fhirgate::tls::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The Helios FHIR server with a SQLite file in its own directory (so a restart keeps its data).
pub struct FhirServer {
    pub port: u16,
    dir: PathBuf,
    program: PathBuf,
    child: Option<Child>,
}

impl FhirServer {
    pub fn start(name: &str) -> Option<FhirServer> {
        let program = component("hfs (the Helios FHIR server)", &[tools_dir().join("bin/hfs")])?;
        let dir = scratch_dir(&format!("{name}-fhir"));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::copy(
            tools_dir().join("hfs-data/search-parameters-r4.json"),
            dir.join("data/search-parameters-r4.json"),
        )
        .expect("the R4 search parameters (installed by .ci/install-fhir-server)");
        let mut server = FhirServer {
            port: free_port(),
            dir,
            program,
            child: None,
        };
        server.resume();
        Some(server)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and database; does nothing while it runs.
    pub fn resume(&mut self) {
        if self.child.is_some() {
            return;
        }
        let log = std::fs::File::create(self.dir.join("hfs.log")).unwrap();
        let child = Command::new(&self.program)
            .current_dir(&self.dir)
            .env("HFS_UI_ENABLED", "false")
            .env("HFS_LOG_LEVEL", "warn")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--base-url",
                &self.base_url(),
                "--database-url",
                "data/fhir.db",
                "--data-dir",
                "data",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let health = format!("{}/health", self.base_url());
        wait_until("the FHIR server", Duration::from_secs(60), || {
            http().get(&health).send().is_ok_and(|r| r.status().is_success())
        });
    }

    /// Stops it hard, as an outage does.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    /// A search, as JSON.
    pub fn search(&self, query: &str) -> Value {
        let response = http().get(format!("{}/{query}", self.base_url())).send().unwrap();
        assert!(response.status().is_success(), "GET {query}: {}", response.status());
        response.json().unwrap()
    }

    /// How many resources a search finds.
    pub fn count(&self, query: &str) -> u64 {
        let separator = if query.contains('?') { '&' } else { '?' };
        let found = self.search(&format!("{query}{separator}_summary=count"));
        found["total"].as_u64().unwrap_or_else(|| panic!("no total in {found}"))
    }

    /// The resources a search finds (first page of up to 1000).
    pub fn resources(&self, query: &str) -> Vec<Value> {
        let separator = if query.contains('?') { '&' } else { '?' };
        let found = self.search(&format!("{query}{separator}_count=1000"));
        found["entry"]
            .as_array()
            .map(|entries| entries.iter().map(|e| e["resource"].clone()).collect())
            .unwrap_or_default()
    }

    /// Creates a resource directly (not through the bridge); returns its id.
    pub fn create(&self, resource_type: &str, resource: &Value) -> String {
        let response = http()
            .post(format!("{}/{resource_type}", self.base_url()))
            .header("Content-Type", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "create {resource_type}");
        let created: Value = response.json().unwrap();
        created["id"].as_str().unwrap().to_string()
    }

    /// Replaces a resource directly (as the EHR would), by its `resourceType` and `id`.
    pub fn update(&self, resource: &Value) {
        let reference = format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        let response = http()
            .put(format!("{}/{reference}", self.base_url()))
            .header("Content-Type", "application/fhir+json")
            .body(resource.to_string())
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "update {reference}: {}",
            response.status()
        );
    }

    pub fn delete(&self, reference: &str) {
        let response = http()
            .delete(format!("{}/{reference}", self.base_url()))
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "delete {reference}: {}",
            response.status()
        );
    }
}

impl Drop for FhirServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A mosquitto broker on its own port, anonymous, without persistence of its own.
pub struct Broker {
    pub port: u16,
    child: Child,
}

impl Broker {
    pub fn start(name: &str) -> Option<Broker> {
        Broker::start_with(name, |port, _| {
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n")
        })
    }

    /// A broker whose listener section `listener(port, dir)` writes (files it needs go in `dir`).
    pub fn start_with(name: &str, listener: impl FnOnce(u16, &Path) -> String) -> Option<Broker> {
        let program = component(
            "mosquitto",
            &[
                PathBuf::from("/usr/sbin/mosquitto"),
                PathBuf::from("/usr/bin/mosquitto"),
            ],
        )?;
        let dir = scratch_dir(&format!("{name}-broker"));
        let port = free_port();
        let config = dir.join("mosquitto.conf");
        // `user root`: run as root, mosquitto would otherwise drop to a user that cannot read the
        // test's files under /root.
        std::fs::write(
            &config,
            format!(
                "{}persistence false\nlog_dest stderr\nmax_queued_messages 10000\nuser root\n",
                listener(port, &dir)
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
        let child = Command::new(program)
            .args(["-c", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_until("the MQTT broker", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(Broker { port, child })
    }

    /// Publishes `payload` at QoS 1 and waits for the broker's PUBACK.
    pub fn publish(&self, topic: &str, payload: &[u8]) {
        self.publish_with(&[], topic, payload);
    }

    /// Publishes with extra `mosquitto_pub` options (credentials, TLS).
    pub fn publish_with(&self, options: &[&str], topic: &str, payload: &[u8]) {
        let port = self.port.to_string();
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", topic, "-s"])
            .args(options)
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(payload)?;
                }
                child.wait()
            })
            .unwrap();
        assert!(status.success(), "mosquitto_pub failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The `fhirgate serve` binary, configured by environment variables, with its store in its own
/// directory (kept across restarts).
pub struct Bridge {
    pub http_port: u16,
    pub mllp_port: u16,
    pub dir: PathBuf,
    env: Vec<(String, String)>,
    /// A program that runs the bridge (`prlimit --nofile=64:64`), if any.
    wrapper: Vec<String>,
    child: Option<Child>,
    starts: u32,
}

impl Bridge {
    /// Waits until the bridge's MQTT subscriptions are in place (the broker acknowledged them).
    pub fn wait_for_subscription(&self) {
        wait_until("the MQTT subscription", Duration::from_secs(30), || {
            self.log().contains("subscribed")
        });
    }

    pub fn start(name: &str, env: &[(&str, String)]) -> Bridge {
        Bridge::start_wrapped(name, env, &[])
    }

    /// Started by `wrapper` (a program and its arguments, then the bridge's command line), such as
    /// `prlimit --nofile=64:64 --`, which execs it: the process is the bridge's.
    pub fn start_wrapped(name: &str, env: &[(&str, String)], wrapper: &[&str]) -> Bridge {
        let mut bridge = Bridge {
            http_port: free_port(),
            mllp_port: free_port(),
            dir: scratch_dir(&format!("{name}-bridge")),
            env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            wrapper: wrapper.iter().map(|w| w.to_string()).collect(),
            child: None,
            starts: 0,
        };
        bridge.resume();
        bridge
    }

    /// The bridge's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// Starts (again) on the same ports and store; does nothing while it runs.
    pub fn resume(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.starts += 1;
        let log = std::fs::File::create(self.dir.join(format!("bridge-{}.log", self.starts))).unwrap();
        let mut command = match self.wrapper.split_first() {
            Some((program, arguments)) => {
                let mut command = Command::new(program);
                command.args(arguments).arg(env!("CARGO_BIN_EXE_fhirgate"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_fhirgate")),
        };
        command
            .arg("serve")
            .current_dir(&self.dir)
            .env("FHIRGATE_HTTP__LISTEN", format!("127.0.0.1:{}", self.http_port))
            .env("FHIRGATE_MLLP__LISTEN", format!("127.0.0.1:{}", self.mllp_port))
            .env("FHIRGATE_STORE__DATA_DIR", self.dir.join("data"))
            .env("FHIRGATE_FHIR__LINGER_MS", "20")
            .env("FHIRGATE_FHIR__INITIAL_BACKOFF_MS", "100")
            .env("FHIRGATE_FHIR__MAX_BACKOFF_SECS", "1")
            .env("RUST_LOG", "fhirgate=debug")
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().unwrap());
        let health = self.url("/healthz");
        wait_until("the bridge", Duration::from_secs(30), || {
            http().get(&health).send().is_ok_and(|r| r.status().is_success())
        });
    }

    /// SIGKILL: no chance to flush or answer anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }

    /// SIGTERM, then waits for the exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        child.wait().is_ok_and(|status| status.success())
    }

    /// Posts one payload to `/ingest/{adapter}`; the HTTP status.
    pub fn post(&self, adapter: &str, body: &[u8]) -> u16 {
        http()
            .post(self.url(&format!("/ingest/{adapter}")))
            .body(body.to_vec())
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// A metric's value from `/metrics` (the sum over its label sets).
    pub fn metric(&self, name: &str) -> f64 {
        let text = http().get(self.url("/metrics")).send().unwrap().text().unwrap();
        text.lines()
            .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn outbox_depth(&self) -> u64 {
        let ready: Value = http().get(self.url("/readyz")).send().unwrap().json().unwrap();
        ready["outboxDepth"].as_u64().unwrap()
    }

    /// Runs `fhirgate deadletter ...` against this bridge; (exit code, stdout).
    pub fn deadletter(&self, args: &[&str]) -> (i32, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
            .arg("deadletter")
            .args(args)
            .env("FHIRGATE_HTTP__LISTEN", format!("127.0.0.1:{}", self.http_port))
            .env("FHIRGATE_STORE__DATA_DIR", self.dir.join("data"))
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    }

    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.dir.join(format!("bridge-{n}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
pub fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=fhirgate test CA",
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}
