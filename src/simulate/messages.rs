//! HL7 v2 messages as a monitor's gateway sends them (IHE PCD TF-2): PCD-01 `ORU^R01` numerics with
//! the MDS/VMD/channel containment of the IHE examples, and PCD-04 `ORU^R40` alarms in their phases
//! (start, then end). Codes are the IEEE 11073-10101 ones the IHE examples use.

use chrono::{DateTime, Utc};

use super::ward::{Monitor, Patient, Pump, PATIENT_SYSTEM};

/// The simulated gateway's EUI-64 (the IEEE documentation OUI, a non-zero device part).
const GATEWAY: &str = "SIM_GATEWAY^ACDE48FFFE000001^EUI-64";

fn hl7_time(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S+0000").to_string()
}

fn pid(patient: &Patient) -> String {
    let oid = PATIENT_SYSTEM.trim_start_matches("urn:oid:");
    format!("PID|||{}^^^SIMHOSP&{oid}&ISO^MR", patient.value)
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
        pid(&monitor.patient),
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
        pid(&monitor.patient),
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

/// A PCD-10 infusion event (`ORU^R42`): delivery started or complete, with the pump's programme and
/// the volume delivered, as the IHE PCD-10 example lays it out.
pub fn pcd10(pump: &Pump, control_id: u64, started: bool, at: DateTime<Utc>) -> String {
    let time = hl7_time(at);
    let device = format!("{}^^{}^EUI-64", pump.eui64, pump.eui64);
    let (event, status) = if started {
        ("197288^MDC_EVT_PUMP_DELIV_START", "pump-status-infusing")
    } else {
        ("197292^MDC_EVT_PUMP_DELIV_COMP", "pump-status-idle")
    };
    let remaining = (pump.volume - pump.delivered).max(0.0);
    [
        format!("MSH|^~\\&|SIM_PUMP_GATEWAY^ACDE48FFFE000002^EUI-64|SIMHOSP|||{time}||ORU^R42^ORU_R01|SIM{control_id:012}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_010^IHE PCD^1.3.6.1.4.1.19376.1.6.4.10^ISO"),
        pid(&pump.patient),
        format!("PV1||I|ICU^^{}", pump.bed),
        format!("OBR|1|{control_id}^PCD-03|{control_id}^SIM_PUMP_GATEWAY^ACDE48FFFE000002^EUI-64|2222^{}|||{time}", pump.drug),
        format!("OBX|1||70049^MDC_DEV_PUMP_INFUS_LVP_MDS^MDC|1.0.0.0|||||||X|||||||{device}"),
        format!("OBX|2|CWE|68487^MDC_ATTR_EVT_COND^MDC|1.0.0.1|{event}^MDC||||||R"),
        "OBX|3||70050^MDC_DEV_PUMP_INFUS_LVP_VMD^MDC|1.1.0.0|||||||X".to_string(),
        "OBX|4||0^MDC_DEV_PUMP_DELIVERY_INFO^MDC|1.1.1.0|||||||X".to_string(),
        format!("OBX|5|CWE|184519^MDC_PUMP_INFUSING_STATUS^MDC|1.1.1.1|^{status}||||||R"),
        "OBX|6||0^MDC_DEV_PUMP_INFUSATE_SOURCE_PRIMARY^MDC|1.1.2.0|||||||X".to_string(),
        format!("OBX|7|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.2.1|{:.1}|265266^MDC_DIM_MILLI_L_PER_HR^MDC^mL/h^mL/h^UCUM|||||R|||{time}", pump.rate),
        format!("OBX|8|NM|157884^MDC_VOL_FLUID_TBI^MDC|1.1.2.2|{:.1}|263762^MDC_DIM_MILLI_L^MDC^mL^mL^UCUM|||||R|||{time}", pump.volume),
        format!("OBX|9|NM|157993^MDC_VOL_FLUID_DELIV_TOTAL^MDC|1.1.2.3|{:.1}|263762^MDC_DIM_MILLI_L^MDC^mL^mL^UCUM|||||R|||{time}", pump.delivered),
        format!("OBX|10|NM|157872^MDC_VOL_FLUID_TBI_REMAIN^MDC|1.1.2.4|{remaining:.1}|263762^MDC_DIM_MILLI_L^MDC^mL^mL^UCUM|||||R|||{time}"),
        format!("OBX|11|ST|184514^MDC_DRUG_NAME_LABEL^MDC|1.1.2.5|{}||||||R", pump.drug),
    ]
    .join("\r")
        + "\r"
}

/// A PCD-15 device status report (`ORU^R01`, IHE PCD-15 profile): the pump's model, power source,
/// battery charge and time left on battery, firmware.
pub fn pcd15(pump: &Pump, control_id: u64, at: DateTime<Utc>) -> String {
    let time = hl7_time(at);
    let device = format!("{}^^{}^EUI-64", pump.eui64, pump.eui64);
    let power = if pump.on_battery { "onBattery" } else { "onMains" };
    // A pump like this runs about 4 hours on a full battery.
    let minutes_left = (pump.battery * 2.4).round();
    [
        format!("MSH|^~\\&|SIM_PUMP_GATEWAY^ACDE48FFFE000002^EUI-64|SIMHOSP|||{time}||ORU^R01^ORU_R01|SIM{control_id:012}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_015^IHE PCD^1.3.6.1.4.1.19376.1.6.4.15^ISO"),
        pid(&pump.patient),
        format!("OBR|1|||69135^MDC_OBS_MEM^MDC|||{time}"),
        format!("OBX|1||70049^MDC_DEV_PUMP_INFUS_LVP_MDS^MDC|1.0.0.0|||||||X|||||||{device}"),
        "OBX|2|ST|67880^MDC_ATTR_ID_MODEL^MDC|1.0.0.1|SIM-PUMP-1||||||R".to_string(),
        format!("OBX|3|CWE|67925^MDC_ATTR_POWER_STAT^MDC|1.0.0.2|^{power}||||||R"),
        format!("OBX|4|NM|67996^MDC_ATTR_VAL_BATT_CHARGE^MDC|1.0.0.3|{:.0}|262688^MDC_DIM_PERCENT^MDC|||||R", pump.battery),
        format!("OBX|5|NM|67976^MDC_ATTR_TIME_BATT_REMAIN^MDC|1.0.0.4|{minutes_left:.0}|264352^MDC_DIM_MIN^MDC|||||R"),
        "OBX|6|ST|531976^MDC_ID_PROD_SPEC_FW^MDC|1.0.0.5|1.0.0||||||R".to_string(),
    ]
    .join("\r")
        + "\r"
}
