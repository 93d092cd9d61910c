//! The `fhirgate` command: parses arguments, calls the library, maps errors to exit codes
//! (0 success, 1 the bridge failed, 2 the input is bad).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fhirgate::adapters::ble::envelope::parse_utc_offset;
use fhirgate::association::AssociationTable;
use fhirgate::delivery::outbox::Outbox;
use fhirgate::ingest::mllp::{self, MllpConfig};
use fhirgate::mapping::{MappingOptions, DEFAULT_GATEWAY_ID_SYSTEM};
use fhirgate::pipeline::{map_payload, AdapterName, MapSettings};

/// Bridge from medical devices to HL7 FHIR R4.
#[derive(Parser)]
#[command(name = "fhirgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Map one device payload to a FHIR R4 transaction Bundle and print it as JSON on stdout.
    ///
    /// Exit status: 0 mapped; 2 the payload is invalid (one line on stderr naming the field, byte
    /// or rule, nothing on stdout); 1 any other failure (e.g. the file cannot be read).
    Map {
        /// Which adapter parses the payload.
        #[arg(long, value_enum)]
        adapter: AdapterName,
        /// The payload file, or `-` for standard input.
        file: PathBuf,
        /// UTC offset of device-local timestamps when the payload gives no `utcOffset` (e.g. +01:00).
        #[arg(long, env = "FHIRGATE_DEFAULT_UTC_OFFSET", default_value = "+00:00", value_parser = parse_offset_arg, allow_hyphen_values = true)]
        default_utc_offset: chrono::FixedOffset,
        /// Identifier system for gateway ids (the envelope's `gateway.id`).
        #[arg(long, env = "FHIRGATE_GATEWAY_ID_SYSTEM", default_value = DEFAULT_GATEWAY_ID_SYSTEM)]
        gateway_id_system: String,
        /// Device-patient associations (JSON) for payloads that name no patient, e.g. pumps sending
        /// "Unknown Patient": see README, "Device-patient association".
        #[arg(long, env = "FHIRGATE_ASSOCIATIONS")]
        associations: Option<PathBuf>,
    },
    /// Run the bridge: accept HL7 v2 over MLLP into the durable outbox (HTTP and MQTT ingest and
    /// delivery to the FHIR server are still to come). Stops on Ctrl-C or SIGTERM.
    Serve {
        /// Address of the MLLP listener. Only loopback addresses are accepted until transport
        /// security (mutual TLS) exists.
        #[arg(long, env = "FHIRGATE_MLLP_LISTEN", default_value = "127.0.0.1:2575")]
        mllp_listen: std::net::SocketAddr,
        /// Directory of the embedded store (the outbox).
        #[arg(long, env = "FHIRGATE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// Largest HL7 message accepted, in bytes.
        #[arg(long, env = "FHIRGATE_MLLP_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
        mllp_max_message_bytes: usize,
        /// Seconds of silence after which an MLLP connection is closed.
        #[arg(long, env = "FHIRGATE_MLLP_IDLE_TIMEOUT_SECS", default_value_t = 300)]
        mllp_idle_timeout_secs: u64,
    },
}

/// Runs `fhirgate serve` until Ctrl-C or SIGTERM.
fn serve(mllp_listen: std::net::SocketAddr, data_dir: PathBuf, config: MllpConfig) -> ExitCode {
    if !mllp_listen.ip().is_loopback() {
        eprintln!(
            "fhirgate: refusing to listen on {mllp_listen}: MLLP has no authentication, so the bridge binds to \
             loopback only until mutual TLS is configured"
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fhirgate: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let outbox = match Outbox::open(&data_dir) {
            Ok(outbox) => outbox,
            Err(error) => {
                eprintln!("fhirgate: {error}");
                return ExitCode::from(1);
            }
        };
        let listener = match tokio::net::TcpListener::bind(mllp_listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("fhirgate: cannot listen on {mllp_listen}: {error}");
                return ExitCode::from(1);
            }
        };
        eprintln!("fhirgate: MLLP on {mllp_listen}, outbox in {}", data_dir.display());
        let shutdown = async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match terminate.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        match mllp::serve(listener, outbox, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("fhirgate: MLLP listener failed: {error}");
                ExitCode::from(1)
            }
        }
    })
}

fn parse_offset_arg(text: &str) -> Result<chrono::FixedOffset, String> {
    parse_utc_offset(text)
}

fn load_associations(path: &PathBuf) -> Result<AssociationTable, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    AssociationTable::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_input(file: &PathBuf) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(file)?;
    }
    Ok(bytes)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            mllp_listen,
            data_dir,
            mllp_max_message_bytes,
            mllp_idle_timeout_secs,
        } => {
            let config = MllpConfig {
                max_message_bytes: mllp_max_message_bytes,
                idle_timeout: std::time::Duration::from_secs(mllp_idle_timeout_secs),
            };
            serve(mllp_listen, data_dir, config)
        }
        Command::Map {
            adapter,
            file,
            default_utc_offset,
            gateway_id_system,
            associations,
        } => {
            let associations = match associations.map(|path| load_associations(&path)).transpose() {
                Ok(table) => table.unwrap_or_default(),
                Err(message) => {
                    eprintln!("fhirgate: {message}");
                    return ExitCode::from(1);
                }
            };
            let payload = match read_input(&file) {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!("fhirgate: cannot read {}: {error}", file.display());
                    return ExitCode::from(1);
                }
            };
            let settings = MapSettings {
                adapter,
                default_utc_offset,
                mapping: MappingOptions { gateway_id_system },
                associations,
            };
            match map_payload(&payload, &settings, chrono::Utc::now()) {
                Ok(json) => {
                    let mut stdout = std::io::stdout().lock();
                    if writeln!(stdout, "{json}").and_then(|_| stdout.flush()).is_err() {
                        return ExitCode::from(1);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    // One line: serde_json messages can span none, but keep the promise regardless.
                    let message = error.to_string().replace('\n', " ");
                    eprintln!("fhirgate: {}: {message}", file.display());
                    ExitCode::from(if error.is_bad_input() { 2 } else { 1 })
                }
            }
        }
    }
}
