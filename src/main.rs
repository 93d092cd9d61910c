//! The `fhirgate` command: parses arguments, calls the library, maps errors to exit codes
//! (0 success, 1 the bridge failed, 2 the input is bad).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fhirgate::adapters::declarative::DeclarativeMappings;
use fhirgate::adapters::AdapterKind;
use fhirgate::admin::{AdminError, Target};
use fhirgate::config::Config;
use fhirgate::mapping::{MappingOptions, DEFAULT_GATEWAY_ID_SYSTEM};
use fhirgate::model::parse_utc_offset;
use fhirgate::pipeline::{explain_payload, map_payload_for, MapSettings};

/// mimalloc rather than the system allocator: a Bundle is built of many small strings and boxes, and
/// with glibc's malloc a third of mapping a monitor's message went to allocating and freeing them
/// (benches/hl7.rs: 9.7k → 13.7k messages/s on the same machine).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        adapter: AdapterKind,
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
        /// Declarative mapping file or directory for `--adapter declarative` (default: ./mappings); the MedTech
        /// device mapping (`CollectionContent`) for `--adapter medtech`.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// The MedTech FHIR destination mapping (`CollectionFhir`) for `--adapter medtech`. The Bundle
        /// printed is what MedTech's create mode writes on a server that has seen none of it.
        #[arg(long)]
        fhir_mapping: Option<PathBuf>,
        /// The identifier system of HL7 v2 patient ids sent without an assigning authority (PID-3
        /// CX-4); without it, such an id names no patient (see README, "Placeholder patients").
        #[arg(long, env = "FHIRGATE_UNQUALIFIED_PATIENT_SYSTEM")]
        unqualified_patient_system: Option<String>,
        /// The identifier system of device ids for `--adapter medtech` (MedTech's default device
        /// identifier system).
        #[arg(long)]
        device_identifier_system: Option<String>,
        /// With `--adapter declarative`: print which mapping matched, every value with the path that found
        /// it, the conversions, what was left out and why, then the Bundle.
        #[arg(long)]
        explain: bool,
        /// The patient (`system|value`) of readings that name none, as a vendor-cloud poller says whose
        /// data it posts (`POST /ingest/declarative?patient=`).
        #[arg(long, value_parser = parse_patient_arg)]
        patient: Option<String>,
    },
    /// Work on declarative mapping files and MedTech templates (see mappings/README.md).
    Mappings {
        #[command(subcommand)]
        action: MappingsAction,
    },
    /// Run the bridge: HTTP, MLLP and MQTT ingest into the durable outbox, delivery to the FHIR
    /// server. Settings come from the TOML file, then FHIRGATE_<SECTION>__<KEY> environment variables;
    /// with neither it listens on 127.0.0.1 (HTTP 8080, MLLP 2575) with its store in ./data. Stops
    /// gracefully on Ctrl-C or SIGTERM.
    Serve {
        /// The configuration file (see README, "Configuration").
        #[arg(long, env = "FHIRGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Also run a simulated ward against this bridge (`fhirgate simulate` at 2 readings a
        /// second), so readings arrive as FHIR resources with no devices at hand.
        #[arg(long)]
        demo: bool,
    },
    /// What was delivered into the embedded destination (the NDJSON files used when no FHIR server
    /// is configured): one line per resource type with its count and file, or with a type, its
    /// resources as NDJSON (the newest last).
    Resources {
        /// The bridge's configuration file (for the store directory and `fhir.files_dir`).
        #[arg(long, env = "FHIRGATE_CONFIG")]
        config: Option<PathBuf>,
        /// A resource type (`Observation`, `Device`): print its resources.
        resource_type: Option<String>,
        /// With a type: only the last N resources.
        #[arg(long)]
        last: Option<usize>,
    },
    /// Drive a running bridge like a ward: Bluetooth hubs over HTTP (and MQTT with --mqtt), a
    /// monitor gateway over MLLP (PCD-01 numerics, PCD-04 alarms), values that drift, device clocks
    /// that are off, and with --faults what real traffic holds. Prints a progress line each second and
    /// a summary (sent, acknowledged, refused by answer). Exit 1 when it could not run.
    Simulate {
        /// The bridge's HTTP address; `none` for no hubs over HTTP.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        http: String,
        /// A gateway's bearer token (http.gateways), when the bridge requires one.
        #[arg(long, env = "FHIRGATE_SIMULATE_TOKEN")]
        token: Option<String>,
        /// The bridge's MLLP address; `none` for no monitors.
        #[arg(long, default_value = "127.0.0.1:2575")]
        mllp: String,
        /// An MQTT broker (host:port) the bridge subscribes to: hubs publish half their readings there,
        /// under `<mqtt-topic>/<hub>/ble`.
        #[arg(long)]
        mqtt: Option<String>,
        /// The topic prefix: the default is the one the bridge subscribes to by default
        /// (`hubs/+/ble`).
        #[arg(long, default_value = "hubs")]
        mqtt_topic: String,
        /// Readings per second, all devices together.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// Devices on the ward: a quarter bedside monitors, an eighth infusion pumps, an eighth
        /// vendor-cloud accounts, the rest Bluetooth devices.
        #[arg(long, default_value_t = 12)]
        devices: usize,
        /// Seconds to run; 0 runs until Ctrl-C (or --count).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Stop after this many sends.
        #[arg(long)]
        count: Option<u64>,
        /// The same seed sends the same payloads.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The share of sends with a fault (0 to 1): bad frames, duplicates, resends, dropped MLLP
        /// connections, unknown devices.
        #[arg(long, default_value_t = 0.0)]
        faults: f64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect and resend what could not be delivered. Talks to the running bridge (its HTTP admin
    /// endpoints) or, when none runs, opens the store directly.
    Deadletter {
        /// The bridge's configuration file (for the store directory and the HTTP address).
        #[arg(long, env = "FHIRGATE_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: DeadletterAction,
    },
}

#[derive(Subcommand)]
enum MappingsAction {
    /// Validate every mapping file: syntax (with line and column), paths, codes, and units against
    /// the code table. Exit 1 when a file has errors.
    Check {
        /// A mapping file or a directory of them.
        #[arg(default_value = "mappings")]
        path: PathBuf,
    },
    /// Run each mapping's test cases (its `[[tests]]`) and compare with the expected Bundles. Exit 1
    /// when one fails.
    Test {
        #[arg(default_value = "mappings")]
        path: PathBuf,
        /// Write each test's Bundle as its expected file instead of comparing (read them before
        /// committing).
        #[arg(long)]
        update: bool,
    },
    /// Print the codes a mapping may name, with their LOINC codes and the units `check` accepts
    /// (Markdown; `mappings/CODES.md` is this output).
    Codes,
}

#[derive(Subcommand)]
enum DeadletterAction {
    /// One line per dead letter: number, time, adapter, source, reason.
    List,
    /// Everything kept about one dead letter (payload, Bundle, the server's answer) as JSON.
    Show { id: u64 },
    /// Put dead letters back in the outbox to be delivered again (after a fix). Conditional creates
    /// make a replay of something already delivered create nothing.
    Replay {
        /// The dead letters to replay.
        ids: Vec<u64>,
        /// Replay every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

/// Runs `fhirgate serve` until Ctrl-C or SIGTERM.
fn serve(config: Option<PathBuf>, demo: bool) -> ExitCode {
    let config = match Config::load(config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("fhirgate: {error}");
            return ExitCode::from(2);
        }
    };
    fhirgate::logging::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fhirgate: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let shutdown = async {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match terminate.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        if demo {
            tokio::spawn(fhirgate::demo::drive(config.clone()));
        }
        match fhirgate::serve::run(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("fhirgate: {error}");
                ExitCode::from(1)
            }
        }
    })
}

/// Structured logs on stderr. Payload values and patient identifiers are never logged at info or
/// above (see README, "Privacy").
/// Runs a `fhirgate deadletter` command. Exit 0 done, 2 no such dead letter, 1 failure.
fn deadletter(config: Option<&std::path::Path>, action: DeadletterAction) -> ExitCode {
    let config = match Config::load(config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("fhirgate: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fhirgate: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let target = Target::connect(&config).await?;
        let mut out = String::new();
        let mut missing = Vec::new();
        match action {
            DeadletterAction::List => {
                for letter in target.list().await? {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\n",
                        letter.id, letter.failed_at, letter.adapter, letter.source, letter.reason
                    ));
                }
            }
            DeadletterAction::Show { id } => match target.show(id).await? {
                Some(letter) => {
                    out = serde_json::to_string_pretty(&letter).map_err(|e| AdminError(e.to_string()))?;
                    out.push('\n');
                }
                None => missing.push(id),
            },
            DeadletterAction::Replay { ids, all } => {
                let ids = if all {
                    target.list().await?.into_iter().map(|letter| letter.id).collect()
                } else {
                    ids
                };
                let total = ids.len();
                let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && total > 1;
                for (n, id) in ids.into_iter().enumerate() {
                    if progress {
                        eprint!("\rreplaying {} of {total} ", n + 1);
                    }
                    match target.replay(id).await? {
                        Some(outbox_id) => out.push_str(&format!("replayed {id} as outbox {outbox_id}\n")),
                        None => missing.push(id),
                    }
                }
                if progress {
                    eprintln!();
                }
            }
        }
        Ok::<_, AdminError>((out, missing))
    });
    match result {
        Ok((out, missing)) => {
            print!("{out}");
            if missing.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("fhirgate: no dead letter {missing:?}");
                ExitCode::from(2)
            }
        }
        Err(error) => {
            eprintln!("fhirgate: {error}");
            ExitCode::from(1)
        }
    }
}

/// `fhirgate simulate`: progress on stderr, the summary on stdout.
fn simulate(options: &fhirgate::simulate::Options, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fhirgate: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let progress = |summary: &fhirgate::simulate::Summary| eprintln!("{}", summary.progress_line());
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(fhirgate::simulate::run(options, progress, stop)) {
        Ok(summary) if json => {
            println!("{}", summary.to_json());
            ExitCode::SUCCESS
        }
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("fhirgate simulate: {error}");
            ExitCode::from(2)
        }
    }
}

/// `fhirgate resources`: reads the files directly (they are only appended to, so reading them while
/// the bridge runs is safe; a line being written is not shown yet).
fn resources(config: Option<&std::path::Path>, resource_type: Option<&str>, last: Option<usize>) -> ExitCode {
    use fhirgate::delivery::ndjson::files;
    let config = match Config::load(config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("fhirgate: {error}");
            return ExitCode::from(2);
        }
    };
    let dir = config.fhir.files_dir(&config.store.data_dir);
    let Some(resource_type) = resource_type else {
        return match files::summary(&dir) {
            Ok(found) if found.is_empty() => {
                println!("nothing delivered into {} yet", dir.display());
                ExitCode::SUCCESS
            }
            Ok(found) => {
                for file in found {
                    println!(
                        "{:<24} {:>8}  {}",
                        file.resource_type,
                        file.resources,
                        file.path.display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("fhirgate: {}: {error}", dir.display());
                ExitCode::from(1)
            }
        };
    };
    let Some(name) = files::file_name(resource_type) else {
        eprintln!("fhirgate: not a FHIR resource type name (e.g. Observation, Device)");
        return ExitCode::from(2);
    };
    let mut lines: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let read = files::each_line(&dir.join(&name), |line| {
        lines.push_back(line.to_vec());
        if last.is_some_and(|last| lines.len() > last) {
            lines.pop_front();
        }
    });
    match read {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("fhirgate: no {resource_type} delivered into {} yet", dir.display());
            return ExitCode::from(1);
        }
        Err(error) => {
            eprintln!("fhirgate: {}: {error}", dir.join(&name).display());
            return ExitCode::from(1);
        }
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        if out.write_all(&line).and_then(|()| out.write_all(b"\n")).is_err() {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn parse_offset_arg(text: &str) -> Result<chrono::FixedOffset, String> {
    parse_utc_offset(text)
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
        Command::Serve { config, demo } => serve(config, demo),
        Command::Mappings { action } => {
            let (path, report) = match action {
                MappingsAction::Codes => {
                    print!("{}", fhirgate::mappings_cli::code_table::markdown());
                    return ExitCode::SUCCESS;
                }
                MappingsAction::Check { path } => {
                    let report = fhirgate::mappings_cli::check(&path);
                    (path, report)
                }
                MappingsAction::Test { path, update } => {
                    let report = fhirgate::mappings_cli::test(&path, update);
                    (path, report)
                }
            };
            print!("{}", report.text);
            if report.failed {
                eprintln!("fhirgate: {}: failed", path.display());
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Deadletter { config, action } => deadletter(config.as_deref(), action),
        Command::Simulate {
            http,
            token,
            mllp,
            mqtt,
            mqtt_topic,
            rate,
            devices,
            duration,
            count,
            seed,
            faults,
            json,
        } => {
            let target = |address: String| (address != "none").then_some(address);
            let options = fhirgate::simulate::Options {
                http: target(http),
                token,
                mllp: target(mllp),
                mqtt,
                mqtt_topic,
                rate,
                devices,
                duration: (duration > 0).then(|| std::time::Duration::from_secs(duration)),
                count,
                seed,
                faults,
            };
            simulate(&options, json)
        }
        Command::Resources {
            config,
            resource_type,
            last,
        } => resources(config.as_deref(), resource_type.as_deref(), last),
        Command::Map {
            adapter,
            file,
            default_utc_offset,
            gateway_id_system,
            associations,
            mapping,
            fhir_mapping,
            device_identifier_system,
            unqualified_patient_system,
            explain,
            patient,
        } => {
            if explain && adapter != AdapterKind::Declarative {
                eprintln!("fhirgate: --explain is for --adapter declarative");
                return ExitCode::from(1);
            }
            if mapping.is_some() && !matches!(adapter, AdapterKind::Declarative | AdapterKind::Medtech) {
                eprintln!("fhirgate: --mapping is for --adapter declarative or medtech");
                return ExitCode::from(1);
            }
            let is_medtech = adapter == AdapterKind::Medtech;
            if is_medtech && (mapping.is_none() || fhir_mapping.is_none()) {
                eprintln!("fhirgate: --adapter medtech needs --mapping (the device mapping) and --fhir-mapping");
                return ExitCode::from(1);
            }
            if !is_medtech && (fhir_mapping.is_some() || device_identifier_system.is_some()) {
                eprintln!("fhirgate: --fhir-mapping and --device-identifier-system are for --adapter medtech");
                return ExitCode::from(1);
            }
            let medtech = if is_medtech {
                let config = fhirgate::config::MedtechConfig {
                    device_mapping: mapping.clone(),
                    fhir_mapping: fhir_mapping.clone(),
                    identity: fhirgate::config::IdentityMode::Create,
                    device_identifier_system,
                };
                match fhirgate::pipeline::medtech::MedtechTemplates::load(&config) {
                    Ok(templates) => templates,
                    Err(error) => {
                        eprintln!("fhirgate: {error}");
                        return ExitCode::from(1);
                    }
                }
            } else {
                Default::default()
            };
            let declarative = if adapter == AdapterKind::Declarative {
                let path = mapping.unwrap_or_else(|| PathBuf::from("mappings"));
                match DeclarativeMappings::load(&path) {
                    Ok(declarative) => declarative,
                    Err(error) => {
                        eprintln!("fhirgate: {error}");
                        return ExitCode::from(1);
                    }
                }
            } else {
                DeclarativeMappings::default()
            };
            let associations = match associations
                .map(|path| fhirgate::pipeline::load_associations(&path))
                .transpose()
            {
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
                default_utc_offset,
                mapping: MappingOptions { gateway_id_system },
                associations,
                declarative: std::sync::Arc::new(declarative),
                medtech: std::sync::Arc::new(medtech),
                unqualified_patient_system,
                ..MapSettings::default()
            };
            if explain {
                return match explain_payload(&payload, &settings, chrono::Utc::now(), patient.as_deref()) {
                    Ok((explanation, bundle)) => {
                        print!("{}", fhirgate::mappings_cli::explanation_text(&explanation));
                        match bundle {
                            Ok(json) => {
                                println!("resources:\n{json}");
                                ExitCode::SUCCESS
                            }
                            Err(error) => {
                                println!("no resources: {error}");
                                ExitCode::from(if error.is_bad_input() { 2 } else { 1 })
                            }
                        }
                    }
                    Err(error) => {
                        eprintln!("fhirgate: {}: {}", file.display(), error.to_string().replace('\n', " "));
                        ExitCode::from(if error.is_bad_input() { 2 } else { 1 })
                    }
                };
            }
            let now = chrono::Utc::now();
            match map_payload_for(adapter, &payload, &settings, now, patient.as_deref()) {
                Ok(json) => {
                    // What a mapping left out is said even without --explain: a dropped value is news.
                    if adapter == AdapterKind::Declarative {
                        if let Ok((_, explanation)) =
                            settings
                                .declarative
                                .read(&payload, now.fixed_offset(), settings.default_utc_offset)
                        {
                            for dropped in &explanation.dropped {
                                eprintln!(
                                    "fhirgate: left out: record {} {}: {}",
                                    dropped.record, dropped.measurement, dropped.reason
                                );
                            }
                        }
                    }
                    let mut stdout = std::io::stdout().lock();
                    if writeln!(stdout, "{json}").and_then(|_| stdout.flush()).is_err() {
                        return ExitCode::from(1);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    // One line: serde_json messages can span none, but keep the promise regardless.
                    let mut message = error.to_string().replace('\n', " ");
                    // The person at the terminal owns the file: name the device to associate (answers
                    // over the network leave it to the dead letter).
                    if let fhirgate::pipeline::MapError::NoPatient { device, .. } = &error {
                        message.push_str(&format!(" (the device: {device})"));
                    }
                    eprintln!("fhirgate: {}: {message}", file.display());
                    ExitCode::from(if error.is_bad_input() { 2 } else { 1 })
                }
            }
        }
    }
}

/// `--patient system|value`.
fn parse_patient_arg(text: &str) -> Result<String, String> {
    match text.split_once('|') {
        Some((system, value)) if !system.trim().is_empty() && !value.trim().is_empty() => Ok(text.to_string()),
        _ => Err("give the patient as system|value, e.g. urn:acme:user|u-17".into()),
    }
}
