//! A simulated ward: patients, their Bluetooth devices behind hubs, and bedside monitors, each with a
//! value that drifts the way a body's does (a bounded random walk around a baseline) and a device
//! clock that may be off. Everything is drawn from one seeded generator, so a seed gives the same
//! ward and the same readings.

use chrono::{DateTime, Duration, Utc};

use super::gatt;

/// A simulated patient: the hospital's identifier.
#[derive(Debug, Clone)]
pub struct Patient {
    pub system: String,
    pub value: String,
}

/// The site's patient identifier system in the simulation.
pub const PATIENT_SYSTEM: &str = "urn:oid:2.16.840.1.113883.19.5";

/// What a Bluetooth device measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BloodPressure,
    HeartRate,
    Thermometer,
    Scale,
    Glucometer,
    Oximeter,
    BodyComposition,
    /// A continuous glucose monitor (records with the session start, each with its E2E-CRC).
    Cgm,
    /// A bedside-style oximeter streaming PLX continuous measurements.
    ContinuousOximeter,
    /// A Polar H10 chest strap streaming its ECG.
    EcgStrap,
}

/// The characteristic UUIDs the simulator writes.
pub const BLOOD_PRESSURE: &str = "2A35";
pub const INTERMEDIATE_CUFF_PRESSURE: &str = "2A36";
pub const GLUCOSE: &str = "2A18";
pub const GLUCOSE_CONTEXT: &str = "2A34";
pub const CGM_MEASUREMENT: &str = "2AA7";
pub const CGM_SESSION_START: &str = "2AAA";
pub const POLAR_PMD_DATA: &str = "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8";
/// The H10 sends its ECG at 130 Hz; a frame holds 73 samples.
pub const ECG_SAMPLES_PER_FRAME: usize = 73;

/// One characteristic value a device notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub characteristic: &'static str,
    pub value: Vec<u8>,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::BloodPressure,
        Kind::HeartRate,
        Kind::Thermometer,
        Kind::Scale,
        Kind::Glucometer,
        Kind::Oximeter,
        Kind::BodyComposition,
        Kind::Cgm,
        Kind::ContinuousOximeter,
        Kind::EcgStrap,
    ];

    /// The characteristics it notifies, in the order a hub forwards them: a blood pressure monitor
    /// sends its intermediate cuff pressure before the result, a glucose meter its record and then
    /// the record's context, a CGM its record with the session's start.
    pub fn characteristics(self) -> &'static [&'static str] {
        match self {
            Kind::BloodPressure => &[INTERMEDIATE_CUFF_PRESSURE, BLOOD_PRESSURE],
            Kind::HeartRate => &["2A37"],
            Kind::Thermometer => &["2A1C"],
            Kind::Scale => &["2A9D"],
            Kind::Glucometer => &[GLUCOSE, GLUCOSE_CONTEXT],
            Kind::Oximeter => &["2A5E"],
            Kind::BodyComposition => &["2A9C"],
            Kind::Cgm => &[CGM_MEASUREMENT, CGM_SESSION_START],
            Kind::ContinuousOximeter => &["2A5F"],
            Kind::EcgStrap => &[POLAR_PMD_DATA],
        }
    }

    fn model(self) -> &'static str {
        match self {
            Kind::BloodPressure => "SIM-BP-1",
            Kind::HeartRate => "SIM-HR-1",
            Kind::Thermometer => "SIM-TH-1",
            Kind::Scale => "SIM-SC-1",
            Kind::Glucometer => "SIM-GL-1",
            Kind::Oximeter => "SIM-OX-1",
            Kind::BodyComposition => "SIM-BC-1",
            Kind::Cgm => "SIM-CGM-1",
            Kind::ContinuousOximeter => "SIM-OXC-1",
            Kind::EcgStrap => "SIM-ECG-1",
        }
    }
}

/// A value that drifts: a random walk that stays within `[low, high]`, pulled back to its baseline.
#[derive(Debug, Clone)]
pub struct Drift {
    pub value: f64,
    baseline: f64,
    step: f64,
    low: f64,
    high: f64,
}

impl Drift {
    pub fn new(rng: &mut fastrand::Rng, baseline: f64, spread: f64, step: f64, low: f64, high: f64) -> Drift {
        let value = (baseline + (rng.f64() * 2.0 - 1.0) * spread).clamp(low, high);
        Drift {
            value,
            baseline: value,
            step,
            low,
            high,
        }
    }

    /// The next value: a step at random, a tenth of the way back to the baseline.
    pub fn next(&mut self, rng: &mut fastrand::Rng) -> f64 {
        let pull = (self.baseline - self.value) * 0.1;
        self.value = (self.value + pull + (rng.f64() * 2.0 - 1.0) * self.step).clamp(self.low, self.high);
        self.value
    }
}

/// A Bluetooth device of a patient, behind a hub.
#[derive(Debug, Clone)]
pub struct BleDevice {
    pub kind: Kind,
    pub address: String,
    pub serial: String,
    pub hub: String,
    pub patient: Patient,
    /// How far the device's clock is off (most are right; some are minutes off).
    pub clock_offset: Duration,
    pub sequence: u16,
    /// A CGM's session start, by the device's clock.
    pub session_start: DateTime<Utc>,
    /// The last ECG frame's samples (µV), for the tests to compare.
    pub ecg: Vec<i32>,
    values: Vec<Drift>,
}

impl BleDevice {
    pub fn new(rng: &mut fastrand::Rng, n: usize, kind: Kind, hub: String, patient: Patient) -> BleDevice {
        let values = match kind {
            // systolic, diastolic, pulse
            Kind::BloodPressure => vec![
                Drift::new(rng, 122.0, 12.0, 3.0, 85.0, 190.0),
                Drift::new(rng, 78.0, 8.0, 2.0, 45.0, 120.0),
                Drift::new(rng, 72.0, 10.0, 2.0, 40.0, 150.0),
            ],
            Kind::HeartRate => vec![Drift::new(rng, 72.0, 10.0, 2.0, 40.0, 180.0)],
            // °C
            Kind::Thermometer => vec![Drift::new(rng, 36.8, 0.4, 0.1, 35.0, 40.5)],
            // kg
            Kind::Scale => vec![Drift::new(rng, 76.0, 15.0, 0.2, 40.0, 160.0)],
            // mg/dL
            Kind::Glucometer => vec![Drift::new(rng, 105.0, 20.0, 6.0, 55.0, 300.0)],
            // body fat %, weight kg
            Kind::BodyComposition => vec![
                Drift::new(rng, 24.0, 6.0, 0.3, 5.0, 60.0),
                Drift::new(rng, 76.0, 15.0, 0.2, 40.0, 160.0),
            ],
            // mg/dL (interstitial fluid)
            Kind::Cgm => vec![Drift::new(rng, 115.0, 25.0, 4.0, 50.0, 350.0)],
            // heart rate, which shapes the ECG's beats
            Kind::EcgStrap => vec![Drift::new(rng, 70.0, 10.0, 2.0, 45.0, 150.0)],
            // SpO2 %, pulse
            Kind::Oximeter | Kind::ContinuousOximeter => vec![
                Drift::new(rng, 97.0, 1.5, 0.6, 85.0, 100.0),
                Drift::new(rng, 74.0, 10.0, 2.0, 40.0, 160.0),
            ],
        };
        // One device in eight has a clock minutes off, as real home devices do.
        let clock_offset = if rng.u8(..8) == 0 {
            Duration::minutes(rng.i64(-90..=90))
        } else {
            Duration::zero()
        };
        BleDevice {
            kind,
            address: format!(
                "5A:1E:{:02X}:{:02X}:{:02X}:{:02X}",
                kind as u8,
                (n >> 8) as u8,
                n as u8,
                rng.u8(..)
            ),
            serial: format!("SIM{n:05}"),
            hub,
            patient,
            clock_offset,
            sequence: rng.u16(..1000),
            // A sensor worn for up to five days.
            session_start: DateTime::<Utc>::UNIX_EPOCH,
            ecg: Vec::new(),
            values,
        }
    }

    /// The device's current values (what the last reading said, before encoding).
    pub fn values(&self) -> Vec<f64> {
        self.values.iter().map(|drift| drift.value).collect()
    }

    /// The meal a glucose reading's context names (1 preprandial, 2 postprandial, 3 fasting), from
    /// its sequence number.
    pub fn meal(&self) -> u8 {
        (self.sequence % 3) as u8 + 1
    }

    /// The intermediate cuff pressure a blood pressure monitor reports before its result: the cuff
    /// deflating past 20 mmHg above the systolic pressure.
    pub fn cuff_pressure(systolic: f64) -> f64 {
        systolic.round() + 20.0
    }

    /// The next reading: the characteristics' value bytes, taken at `now` by the device's clock.
    pub fn next_value(&mut self, rng: &mut fastrand::Rng, now: DateTime<Utc>) -> Vec<Notification> {
        let values: Vec<f64> = self.values.iter_mut().map(|drift| drift.next(rng)).collect();
        let at = now + self.clock_offset;
        let value = |i: usize| values.get(i).copied().unwrap_or_default();
        self.sequence = self.sequence.wrapping_add(1);
        let [first, second] = match self.kind {
            Kind::BloodPressure => [
                Some(gatt::cuff_pressure(Self::cuff_pressure(value(0)), at)),
                Some(gatt::blood_pressure(value(0), value(1), value(2), at)),
            ],
            Kind::HeartRate => [Some(gatt::heart_rate(value(0))), None],
            Kind::Thermometer => [Some(gatt::temperature(value(0), at)), None],
            Kind::Scale => [Some(gatt::weight(value(0), at)), None],
            Kind::Glucometer => {
                let (measurement, context) = gatt::glucose_with_context(self.sequence, value(0), self.meal(), at);
                [Some(measurement), Some(context)]
            }
            Kind::Oximeter => [Some(gatt::spot_check(value(0), value(1), at)), None],
            Kind::BodyComposition => [Some(gatt::body_composition(value(0), value(1), at)), None],
            Kind::Cgm => {
                // The session began on the device's clock up to five days ago, on a whole minute.
                if self.session_start == DateTime::<Utc>::UNIX_EPOCH {
                    let minutes_ago = rng.i64(30..5 * 24 * 60);
                    let start = at - Duration::minutes(minutes_ago);
                    self.session_start = start - Duration::seconds(i64::from(chrono::Timelike::second(&start)));
                }
                let minutes = ((at - self.session_start).num_minutes()).clamp(0, i64::from(u16::MAX)) as u16;
                [
                    Some(gatt::cgm_record(value(0), minutes)),
                    Some(gatt::cgm_session_start(self.session_start)),
                ]
            }
            Kind::ContinuousOximeter => [Some(gatt::continuous_oximetry(value(0), value(1))), None],
            Kind::EcgStrap => {
                self.ecg = ecg_frame(rng, value(0), self.sequence);
                let sensor_ns = u64::from(self.sequence) * 561_538_461;
                [Some(gatt::polar_ecg(sensor_ns, &self.ecg)), None]
            }
        };
        self.kind
            .characteristics()
            .iter()
            .zip([first, second].into_iter().flatten())
            .map(|(characteristic, value)| Notification { characteristic, value })
            .collect()
    }

    /// The hub envelope for `notifications`, received now: one value as `characteristic`/`value`,
    /// several as `notifications`.
    pub fn envelope(
        &self,
        notifications: &[Notification],
        now: DateTime<Utc>,
        with_patient: bool,
    ) -> serde_json::Value {
        let mut envelope = serde_json::json!({
            "gateway": {"id": self.hub},
            "device": {
                "address": self.address,
                "manufacturer": "fhirgate simulator",
                "model": self.kind.model(),
                "serial": self.serial,
            },
            "receivedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "utcOffset": "+00:00",
        });
        match notifications {
            [one] => {
                envelope["characteristic"] = serde_json::Value::from(one.characteristic);
                envelope["value"] = serde_json::Value::from(hex::encode(&one.value));
            }
            several => {
                envelope["notifications"] = several
                    .iter()
                    .map(|n| serde_json::json!({"characteristic": n.characteristic, "value": hex::encode(&n.value)}))
                    .collect();
            }
        }
        if with_patient {
            envelope["patient"] = serde_json::json!({"system": self.patient.system, "value": self.patient.value});
        }
        envelope
    }
}

/// One ECG frame's samples in µV: a beat shape (a QRS spike over a small T wave) at `heart_rate`,
/// with a little noise, continuing from the frame number.
fn ecg_frame(rng: &mut fastrand::Rng, heart_rate: f64, frame: u16) -> Vec<i32> {
    let per_beat = (130.0 * 60.0 / heart_rate.max(30.0)).round().max(1.0) as usize;
    let first = usize::from(frame) * ECG_SAMPLES_PER_FRAME;
    (first..first + ECG_SAMPLES_PER_FRAME)
        .map(|n| {
            let phase = n % per_beat;
            let wave = match phase {
                0 => 1100,
                1 | 2 => -250,
                p if p > per_beat / 3 && p < per_beat / 2 => 180,
                _ => 0,
            };
            wave + rng.i32(-25..=25)
        })
        .collect()
}

/// A bedside monitor on the HL7 v2 network, with its patient.
#[derive(Debug, Clone)]
pub struct Monitor {
    pub eui64: String,
    pub bed: String,
    pub patient: Patient,
    pub heart_rate: Drift,
    pub spo2: Drift,
    pub systolic: Drift,
    pub diastolic: Drift,
    pub respiration: Drift,
    /// An alarm in progress (its id), so that its end follows its start.
    pub alarm: Option<u32>,
}

impl Monitor {
    pub fn new(rng: &mut fastrand::Rng, n: usize, patient: Patient) -> Monitor {
        Monitor {
            // The OUI of the IEEE's documentation range, then a per-device part that is never zeros.
            eui64: format!("ACDE48FFFE{:02X}{:04X}", rng.u8(..), n + 1),
            bed: format!("{}", n + 1),
            patient,
            heart_rate: Drift::new(rng, 78.0, 12.0, 2.0, 35.0, 190.0),
            spo2: Drift::new(rng, 96.0, 2.0, 0.7, 80.0, 100.0),
            systolic: Drift::new(rng, 120.0, 12.0, 3.0, 80.0, 200.0),
            diastolic: Drift::new(rng, 76.0, 8.0, 2.0, 40.0, 120.0),
            respiration: Drift::new(rng, 16.0, 3.0, 1.0, 6.0, 40.0),
            alarm: None,
        }
    }
}

/// An infusion pump on the HL7 v2 network, delivering one drug to its patient.
#[derive(Debug, Clone)]
pub struct Pump {
    pub eui64: String,
    pub bed: String,
    pub patient: Patient,
    pub drug: &'static str,
    /// mL/h
    pub rate: f64,
    /// mL to be infused, and delivered so far.
    pub volume: f64,
    pub delivered: f64,
    pub infusing: bool,
    /// Battery charge (%), and whether the pump runs on it (unplugged to move the patient).
    pub battery: f64,
    pub on_battery: bool,
    /// What the pump sends next: a delivery event or its status.
    pub status_next: bool,
}

impl Pump {
    pub fn new(rng: &mut fastrand::Rng, n: usize, patient: Patient) -> Pump {
        let drugs = ["Dopamine", "Heparin", "Normal Saline", "Insulin"];
        Pump {
            eui64: format!("ACDE48FFFE{:02X}{:04X}", rng.u8(..), 0x8000 + n),
            bed: format!("{}", n + 1),
            patient,
            drug: drugs[n % drugs.len()],
            rate: (5.0 + rng.f64() * 95.0).round() / 10.0 * 10.0,
            volume: 250.0,
            delivered: 0.0,
            infusing: false,
            battery: 60.0 + rng.f64() * 40.0,
            on_battery: false,
            status_next: false,
        }
    }
}

/// A patient's account at a vendor cloud (Withings), polled by a connector that posts what it gets
/// with `?patient=`.
#[derive(Debug, Clone)]
pub struct CloudAccount {
    pub device_id: String,
    pub patient: Patient,
    pub weight: Drift,
    pub systolic: Drift,
    pub diastolic: Drift,
    pub pulse: Drift,
    pub group: u64,
}

impl CloudAccount {
    pub fn new(rng: &mut fastrand::Rng, n: usize, patient: Patient) -> CloudAccount {
        CloudAccount {
            device_id: format!("sim-withings-{:04}", n + 1),
            patient,
            weight: Drift::new(rng, 80.0, 15.0, 0.3, 40.0, 160.0),
            systolic: Drift::new(rng, 125.0, 12.0, 3.0, 85.0, 190.0),
            diastolic: Drift::new(rng, 80.0, 8.0, 2.0, 45.0, 120.0),
            pulse: Drift::new(rng, 70.0, 10.0, 2.0, 40.0, 150.0),
            group: 1_000_000 + n as u64 * 1000,
        }
    }

    /// The next measure group, as Withings' `getmeas` answers it: weight (g, unit -3), blood
    /// pressure and pulse, measured at `at`.
    pub fn next_poll(&mut self, rng: &mut fastrand::Rng, at: DateTime<Utc>) -> serde_json::Value {
        self.group += 1;
        let weight = (self.weight.next(rng) * 1000.0).round() as i64;
        let (systolic, diastolic, pulse) = (
            self.systolic.next(rng).round() as i64,
            self.diastolic.next(rng).round() as i64,
            self.pulse.next(rng).round() as i64,
        );
        serde_json::json!({
            "status": 0,
            "body": {
                "updatetime": at.timestamp(),
                "timezone": "Europe/Paris",
                "measuregrps": [{
                    "grpid": self.group,
                    "attrib": 0,
                    "date": at.timestamp(),
                    "created": at.timestamp(),
                    "category": 1,
                    "deviceid": self.device_id,
                    "measures": [
                        {"value": weight, "type": 1, "unit": -3},
                        {"value": diastolic, "type": 9, "unit": 0},
                        {"value": systolic, "type": 10, "unit": 0},
                        {"value": pulse, "type": 11, "unit": 0}
                    ]
                }]
            }
        })
    }
}

/// The ward: patients with Bluetooth devices behind hubs (two devices a patient, two patients a
/// hub), bedside monitors, infusion pumps, and vendor-cloud accounts. `devices` counts them all: a
/// quarter monitors, an eighth pumps, an eighth cloud accounts, the rest Bluetooth devices.
pub struct Ward {
    pub ble: Vec<BleDevice>,
    pub monitors: Vec<Monitor>,
    pub pumps: Vec<Pump>,
    pub clouds: Vec<CloudAccount>,
}

impl Ward {
    pub fn new(rng: &mut fastrand::Rng, devices: usize) -> Ward {
        let devices = devices.max(1);
        let monitors = devices / 4;
        let pumps = devices / 8;
        let clouds = devices / 8;
        let ble_count = devices - monitors - pumps - clouds;
        let patient = |n: usize| Patient {
            system: PATIENT_SYSTEM.into(),
            value: format!("SIM-MRN-{:04}", n + 1),
        };
        let ble = (0..ble_count)
            .map(|n| {
                let kind = Kind::ALL[n % Kind::ALL.len()];
                let owner = n / 2;
                BleDevice::new(rng, n, kind, format!("sim-hub-{}", owner / 2 + 1), patient(owner))
            })
            .collect();
        // Bedside patients after the Bluetooth devices' owners; each has a monitor, some a pump too.
        let first = ble_count.div_ceil(2);
        let monitors: Vec<Monitor> = (0..monitors)
            .map(|n| Monitor::new(rng, n, patient(first + n)))
            .collect();
        let pumps = (0..pumps)
            .map(|n| {
                let owner = monitors
                    .get(n)
                    .map_or_else(|| patient(first + n), |m| m.patient.clone());
                Pump::new(rng, n, owner)
            })
            .collect();
        // Cloud accounts belong to the Bluetooth devices' owners (home and clinic readings alike).
        let clouds = (0..clouds).map(|n| CloudAccount::new(rng, n, patient(n))).collect();
        Ward {
            ble,
            monitors,
            pumps,
            clouds,
        }
    }
}
