//! HL7 v2 messages as a monitor's gateway sends them (IHE PCD TF-2): PCD-01 `ORU^R01` numerics with
//! the MDS/VMD/channel containment of the IHE examples, and PCD-04 `ORU^R40` alarms in their phases
//! (start, then end). Codes are the IEEE 11073-10101 ones the IHE examples use.

use chrono::{DateTime, Utc};

use super::ward::{Monitor, PATIENT_SYSTEM};

/// The simulated gateway's EUI-64 (the IEEE documentation OUI, a non-zero device part).
const GATEWAY: &str = "SIM_GATEWAY^ACDE48FFFE000001^EUI-64";

fn hl7_time(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S+0000").to_string()
}

fn pid(monitor: &Monitor) -> String {
    let oid = PATIENT_SYSTEM.trim_start_matches("urn:oid:");
    format!("PID|||{}^^^SIMHOSP&{oid}&ISO^MR", monitor.patient.value)
}

/// A PCD-01 report of the monitor's current values: heart rate, SpO2, NIBP and respiration rate.
pub fn pcd01(monitor: &Monitor, control_id: u64, at: DateTime<Utc>) -> String {
    let time = hl7_time(at);
    let device = format!("{}^^{}^EUI-64", monitor.eui64, monitor.eui64);
    let numeric = |set: u32, code: &str, level: &str, value: f64, unit: &str| {
        format!("OBX|{set}|NM|{code}^MDC|{level}|{value:.0}|{unit}^MDC|||||R|||{time}||||{device}")
    };
    let systolic = monitor.systolic.value;
    let diastolic = monitor.diastolic.value;
    let mean = diastolic + (systolic - diastolic) / 3.0;
    [
        format!("MSH|^~\\&|{GATEWAY}|SIMHOSP|||{time}||ORU^R01^ORU_R01|SIM{control_id:012}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"),
        pid(monitor),
        format!("PV1||I|ICU^^{}", monitor.bed),
        format!("OBR|1|{control_id}^SIM_GATEWAY^ACDE48FFFE000001^EUI-64|{control_id}^SIM_GATEWAY^ACDE48FFFE000001^EUI-64|182777000^monitoring of patient^SCT|||{time}|{time}"),
        format!("OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||{device}"),
        numeric(2, "147842^MDC_ECG_HEART_RATE", "1.1.1.147842", monitor.heart_rate.value, "264864^MDC_DIM_BEAT_PER_MIN"),
        numeric(3, "150456^MDC_PULS_OXIM_SAT_O2", "1.2.1.150456", monitor.spo2.value, "262688^MDC_DIM_PERCENT"),
        numeric(4, "150021^MDC_PRESS_BLD_NONINV_SYS", "1.3.1.150021", systolic, "266016^MDC_DIM_MMHG"),
        numeric(5, "150022^MDC_PRESS_BLD_NONINV_DIA", "1.3.1.150022", diastolic, "266016^MDC_DIM_MMHG"),
        numeric(6, "150023^MDC_PRESS_BLD_NONINV_MEAN", "1.3.1.150023", mean, "266016^MDC_DIM_MMHG"),
        numeric(7, "151562^MDC_RESP_RATE", "1.4.1.151562", monitor.respiration.value, "264928^MDC_DIM_RESP_PER_MIN"),
    ]
    .join("\r")
        + "\r"
}

/// A PCD-04 low-SpO2 alarm in phase `start` or `end`, with the value that raised it.
pub fn pcd04(monitor: &Monitor, control_id: u64, alarm: u32, start: bool, at: DateTime<Utc>) -> String {
    let time = hl7_time(at);
    let device = format!("{}^^{}^EUI-64", monitor.eui64, monitor.eui64);
    let (phase, state) = if start {
        ("start", "active")
    } else {
        ("end", "inactive")
    };
    [
        format!("MSH|^~\\&|{GATEWAY}|SIMHOSP|||{time}||ORU^R40^ORU_R40|SIM{control_id:012}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4.1^ISO"),
        pid(monitor),
        format!("PV1||I|ICU^^{}", monitor.bed),
        format!("OBR|1|{alarm}^SIM_GATEWAY^ACDE48FFFE000001^EUI-64|{alarm}^SIM_GATEWAY^ACDE48FFFE000001^EUI-64|196616^MDC_EVT_ALARM^MDC|||{time}"),
        format!("OBX|1|ST|196670^MDC_EVT_LO^MDC|1.2.1.150456.1|Low SpO2|||L~PM~SP|||F|||{time}||||{device}"),
        format!("OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.150456.2|{:.0}|262688^MDC_DIM_PERCENT^MDC|90-100||||F|||{time}", monitor.spo2.value),
        format!("OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.2.1.150456.3|{phase}||||||F"),
        format!("OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.2.1.150456.4|{state}||||||F"),
    ]
    .join("\r")
        + "\r"
}
