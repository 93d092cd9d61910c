//! The code table: every MDC code the bridge emits, with its reference id, the LOINC code that makes
//! it a FHIR vital sign (where one applies) and its usual UCUM unit. Data, in one place; adapters name
//! codes through the constants in [`mdc`], the mapper looks their metadata up in [`TABLE`].
//!
//! Sources: HL7 PHD IG 2.0.0 (examples, the ASN1ToHL7 code system and the device-type value set),
//! IEEE 11073-10101 as reproduced in open-source 11073 stacks (antidote, OpenICE, the IG author's PHG
//! encoder table), the IHE PCD Technical Framework, and the R4 vital-signs profiles. Codes with a
//! single secondary source are noted where they are used.

use crate::model::{MdcCode, Statistic};

/// One row of the code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeEntry {
    pub mdc: MdcCode,
    /// The MDC reference id, used as the coding's display (as the PHD IG examples do).
    pub reference_id: &'static str,
    /// A human label for `CodeableConcept.text`.
    pub text: &'static str,
    /// The LOINC code, when the measurement is an R4 vital sign (or has a standard LOINC).
    pub loinc: Option<&'static str>,
    /// Extra LOINC codings the profiles ask for (US Core's 59408-5 pulse oximetry next to 2708-6).
    pub extra_loinc: &'static [&'static str],
    /// Whether the R4 vital-signs profile applies (category `vital-signs`).
    pub vital_sign: bool,
    /// The UCUM unit the bridge normally emits for it (informational; values carry their own unit).
    pub ucum: Option<&'static str>,
}

macro_rules! code_table {
    ($($name:ident = $code:literal, $refid:literal, $text:literal, $loinc:expr, [$($extra:literal),*], $vital:literal, $ucum:expr;)*) => {
        /// MDC codes by their reference id (without the `MDC_` prefix).
        pub mod mdc {
            use crate::model::MdcCode;
            $(pub const $name: MdcCode = MdcCode($code);)*
        }

        /// Every code the bridge emits.
        pub static TABLE: &[CodeEntry] = &[
            $(CodeEntry {
                mdc: MdcCode($code),
                reference_id: $refid,
                text: $text,
                loinc: $loinc,
                extra_loinc: &[$($extra),*],
                vital_sign: $vital,
                ucum: $ucum,
            },)*
        ];
    };
}

code_table! {
    // Blood pressure (11073-10407).
    PRESS_BLD_NONINV = 150020, "MDC_PRESS_BLD_NONINV", "Blood pressure", Some("85354-9"), [], true, None;
    PRESS_BLD_NONINV_SYS = 150021, "MDC_PRESS_BLD_NONINV_SYS", "Systolic blood pressure", Some("8480-6"), [], true, Some("mm[Hg]");
    PRESS_BLD_NONINV_DIA = 150022, "MDC_PRESS_BLD_NONINV_DIA", "Diastolic blood pressure", Some("8462-4"), [], true, Some("mm[Hg]");
    PRESS_BLD_NONINV_MEAN = 150023, "MDC_PRESS_BLD_NONINV_MEAN", "Mean blood pressure", None, [], false, Some("mm[Hg]");
    PULS_RATE_NON_INV = 149546, "MDC_PULS_RATE_NON_INV", "Pulse rate", Some("8867-4"), [], true, Some("/min");
    // 150300 is from OpenICE's nomenclature only (term 19228, consistent with _SYS/_DIA/_MEAN 150301-3).
    PRESS_CUFF = 150300, "MDC_PRESS_CUFF", "Cuff pressure", None, [], false, Some("mm[Hg]");
    BLOOD_PRESSURE_MEASUREMENT_STATUS = 8410608, "MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS", "Blood pressure measurement status", None, [], false, None;
    // Heart rate.
    ECG_HEART_RATE = 147842, "MDC_ECG_HEART_RATE", "Heart rate", Some("8867-4"), [], true, Some("/min");
    RESP_RATE = 151562, "MDC_RESP_RATE", "Respiratory rate", Some("9279-1"), [], true, Some("/min");
    // Peak expiratory flow: the R4 core spirometry example (Observation/656, 820 cL/s, MDC unit 265201).
    // No LOINC is claimed (none verified); FEV1 and FVC have no verified MDC code, so mappings code them
    // with LOINC through `code_in` (20150-9, 19870-5, as the HL7 PFT IG's profiles do).
    FLOW_AWAY_EXP_FORCED_PEAK = 152584, "MDC_FLOW_AWAY_EXP_FORCED_PEAK", "Peak expiratory flow", None, [], false, Some("L/min");
    ECG_TIME_PD_RR_GL = 147240, "MDC_ECG_TIME_PD_RR_GL", "RR interval", None, [], false, Some("s");
    // Pulse oximetry (11073-10404).
    PULS_OXIM_SAT_O2 = 150456, "MDC_PULS_OXIM_SAT_O2", "Oxygen saturation", Some("2708-6"), ["59408-5"], true, Some("%");
    PULS_OXIM_PULS_RATE = 149530, "MDC_PULS_OXIM_PULS_RATE", "Pulse rate", Some("8867-4"), [], true, Some("/min");
    PULS_OXIM_PERF_REL = 150448, "MDC_PULS_OXIM_PERF_REL", "Pulse amplitude index", None, [], false, Some("%");
    // Thermometer (11073-10408).
    TEMP_BODY = 150364, "MDC_TEMP_BODY", "Body temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_RECT = 188420, "MDC_TEMP_RECT", "Rectal temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_ORAL = 188424, "MDC_TEMP_ORAL", "Oral temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_EAR = 188428, "MDC_TEMP_EAR", "Ear temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_FINGER = 188432, "MDC_TEMP_FINGER", "Finger temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_TOE = 188448, "MDC_TEMP_TOE", "Toe temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_AXILLA = 188452, "MDC_TEMP_AXILLA", "Axillary temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_GIT = 188456, "MDC_TEMP_GIT", "Gastro-intestinal tract temperature", Some("8310-5"), [], true, Some("Cel");
    TEMP_TYMP = 150392, "MDC_TEMP_TYMP", "Tympanic temperature", Some("8310-5"), [], true, Some("Cel");
    // Weight scale (11073-10415) and body composition (11073-10420).
    MASS_BODY_ACTUAL = 188736, "MDC_MASS_BODY_ACTUAL", "Body weight", Some("29463-7"), [], true, Some("kg");
    LEN_BODY_ACTUAL = 188740, "MDC_LEN_BODY_ACTUAL", "Body height", Some("8302-2"), [], true, Some("m");
    RATIO_MASS_BODY_LEN_SQ = 188752, "MDC_RATIO_MASS_BODY_LEN_SQ", "Body mass index", Some("39156-5"), [], true, Some("kg/m2");
    BODY_FAT = 188748, "MDC_BODY_FAT", "Body fat percentage", Some("41982-0"), [], false, Some("%");
    MASS_BODY_FAT_FREE = 188756, "MDC_MASS_BODY_FAT_FREE", "Fat-free mass", None, [], false, Some("kg");
    MASS_BODY_SOFT_LEAN = 188760, "MDC_MASS_BODY_SOFT_LEAN", "Soft lean mass", None, [], false, Some("kg");
    BODY_WATER = 188764, "MDC_BODY_WATER", "Body water mass", None, [], false, Some("kg");
    // Modalities (supplemental types) and attributes.
    ATTR_SUPPLEMENTAL_TYPES = 68193, "MDC_ATTR_SUPPLEMENTAL_TYPES", "Supplemental types", None, [], false, None;
    MODALITY_SPOT = 150588, "MDC_MODALITY_SPOT", "Spot check", None, [], false, None;
    MODALITY_FAST = 150580, "MDC_MODALITY_FAST", "Fast response average", None, [], false, None;
    MODALITY_SLOW = 150584, "MDC_MODALITY_SLOW", "Slow response average", None, [], false, None;
    PULS_OXIM_DEV_STATUS = 150604, "MDC_PULS_OXIM_DEV_STATUS", "Pulse oximeter device and sensor status", None, [], false, None;
    // Alerts (IHE PCD-04 ACM) and events (PCD-10 IPEC): IHE PCD TF-2 / IEEE 11073-10101.
    ATTR_ALERT_SOURCE = 68480, "MDC_ATTR_ALERT_SOURCE", "Alert source", None, [], false, None;
    ATTR_EVENT_PHASE = 68481, "MDC_ATTR_EVENT_PHASE", "Event phase", None, [], false, None;
    ATTR_ALARM_STATE = 68482, "MDC_ATTR_ALARM_STATE", "Alarm state", None, [], false, None;
    ATTR_ALARM_INACTIVATION_STATE = 68483, "MDC_ATTR_ALARM_INACTIVATION_STATE", "Alarm inactivation state", None, [], false, None;
    ATTR_ALARM_PRIORITY = 68484, "MDC_ATTR_ALARM_PRIORITY", "Alarm priority", None, [], false, None;
    ATTR_ALERT_TYPE = 68485, "MDC_ATTR_ALERT_TYPE", "Alert type", None, [], false, None;
    ATTR_EVT_COND = 68487, "MDC_ATTR_EVT_COND", "Event condition", None, [], false, None;
    ATTR_EVT_SOURCE = 68488, "MDC_ATTR_EVT_SOURCE", "Event source", None, [], false, None;
    EVT_ALARM = 196616, "MDC_EVT_ALARM", "Alarm", None, [], false, None;
    EVT_PUMP_DELIV_START = 197288, "MDC_EVT_PUMP_DELIV_START", "Infusion delivery started", None, [], false, None;
    EVT_PUMP_DELIV_COMP = 197292, "MDC_EVT_PUMP_DELIV_COMP", "Infusion delivery complete", None, [], false, None;
    EVT_VOL_INFUS_NEAR_COMP = 197334, "MDC_EVT_VOL_INFUS_NEAR_COMP", "Infusion near completion", None, [], false, None;
    ATTR_VAL_BATT_CHARGE = 67996, "MDC_ATTR_VAL_BATT_CHARGE", "Battery level", None, [], false, Some("%");
    // Waveforms. ECG potentials (11073-10101 partition 2, 131328 + the lead number of the MDC_ECG_LEAD_*
    // identifiers: I 1, II 2, V1-V6 3-8, III 61, aVR 62, aVL 63, aVF 64), as in the R4 core example
    // Observation/ekg and the PHD IG rtsa-example-2; pleth from rtsa-example; thoracic impedance from a
    // Mindray D-series PCD-01 capture. Waveforms are no vital signs: no LOINC, no vital-signs category.
    ECG_ELEC_POTL = 131328, "MDC_ECG_ELEC_POTL", "ECG", None, [], false, Some("mV");
    ECG_ELEC_POTL_I = 131329, "MDC_ECG_ELEC_POTL_I", "ECG lead I", None, [], false, Some("mV");
    ECG_ELEC_POTL_II = 131330, "MDC_ECG_ELEC_POTL_II", "ECG lead II", None, [], false, Some("mV");
    ECG_ELEC_POTL_V1 = 131331, "MDC_ECG_ELEC_POTL_V1", "ECG lead V1", None, [], false, Some("mV");
    ECG_ELEC_POTL_V2 = 131332, "MDC_ECG_ELEC_POTL_V2", "ECG lead V2", None, [], false, Some("mV");
    ECG_ELEC_POTL_V3 = 131333, "MDC_ECG_ELEC_POTL_V3", "ECG lead V3", None, [], false, Some("mV");
    ECG_ELEC_POTL_V4 = 131334, "MDC_ECG_ELEC_POTL_V4", "ECG lead V4", None, [], false, Some("mV");
    ECG_ELEC_POTL_V5 = 131335, "MDC_ECG_ELEC_POTL_V5", "ECG lead V5", None, [], false, Some("mV");
    ECG_ELEC_POTL_V6 = 131336, "MDC_ECG_ELEC_POTL_V6", "ECG lead V6", None, [], false, Some("mV");
    ECG_ELEC_POTL_III = 131389, "MDC_ECG_ELEC_POTL_III", "ECG lead III", None, [], false, Some("mV");
    ECG_ELEC_POTL_AVR = 131390, "MDC_ECG_ELEC_POTL_AVR", "ECG lead aVR", None, [], false, Some("mV");
    ECG_ELEC_POTL_AVL = 131391, "MDC_ECG_ELEC_POTL_AVL", "ECG lead aVL", None, [], false, Some("mV");
    ECG_ELEC_POTL_AVF = 131392, "MDC_ECG_ELEC_POTL_AVF", "ECG lead aVF", None, [], false, Some("mV");
    PULS_OXIM_PLETH = 150452, "MDC_PULS_OXIM_PLETH", "Plethysmogram", None, [], false, None;
    IMPED_TTHOR = 151780, "MDC_IMPED_TTHOR", "Thoracic impedance (respiration wave)", None, [], false, None;
    // Ventilation (IHE PCD-01 from ventilators and monitors). Codes checked against the NIST RTMMS
    // export and Philips' IntelliVue nomenclature; LOINC only where the MII ICU profiles (FHIR 4.0.1)
    // pair it with that very MDC code. Both PEEP codes are in circulation (151804 from monitors,
    // 151976 from ventilators): both are kept, neither "corrected" into the other. FiO2 has no LOINC
    // (the MII profile forbids one). These are no R4 vital signs.
    VENT_RESP_RATE = 151586, "MDC_VENT_RESP_RATE", "Ventilator respiratory rate", Some("33438-3"), [], false, Some("/min");
    VOL_AWAY_TIDAL = 151868, "MDC_VOL_AWAY_TIDAL", "Tidal volume", None, [], false, Some("mL");
    VENT_VOL_TIDAL = 151980, "MDC_VENT_VOL_TIDAL", "Tidal volume during ventilation", Some("76222-9"), [], false, Some("mL");
    PRESS_AWAY_END_EXP_POS = 151804, "MDC_PRESS_AWAY_END_EXP_POS", "Positive end-expiratory pressure", None, [], false, Some("cm[H2O]");
    VENT_PRESS_AWAY_END_EXP_POS = 151976, "MDC_VENT_PRESS_AWAY_END_EXP_POS", "Positive end-expiratory pressure (ventilator)", Some("76248-4"), [], false, Some("cm[H2O]");
    CONC_AWAY_O2_INSP = 152196, "MDC_CONC_AWAY_O2_INSP", "Inspired oxygen fraction (FiO2)", None, [], false, Some("%");
    PRESS_AWAY_INSP_MAX = 151817, "MDC_PRESS_AWAY_INSP_MAX", "Peak inspiratory pressure", None, [], false, Some("cm[H2O]");
    VENT_PRESS_AWAY_MEAN = 151975, "MDC_VENT_PRESS_AWAY_MEAN", "Mean airway pressure (ventilator)", Some("60952-9"), [], false, Some("cm[H2O]");
    PRESS_RESP_PLAT = 151784, "MDC_PRESS_RESP_PLAT", "Plateau pressure", None, [], false, Some("cm[H2O]");
    VENT_PRESS_RESP_PLAT = 152424, "MDC_VENT_PRESS_RESP_PLAT", "Plateau pressure (ventilator)", Some("76259-1"), [], false, Some("cm[H2O]");
    VOL_MINUTE_AWAY = 151880, "MDC_VOL_MINUTE_AWAY", "Minute volume", None, [], false, Some("L/min");
    VENT_VOL_MINUTE_INSP = 152004, "MDC_VENT_VOL_MINUTE_INSP", "Inspired minute volume (ventilator)", Some("76009-0"), [], false, Some("L/min");
    RATIO_IE = 151832, "MDC_RATIO_IE", "Inspiratory to expiratory time ratio", Some("75931-6"), [], false, None;
    CONC_AWAY_CO2_ET = 151708, "MDC_CONC_AWAY_CO2_ET", "End-tidal CO2", Some("19891-1"), [], false, Some("mm[Hg]");
    AWAY_CO2_ET = 151728, "MDC_AWAY_CO2_ET", "End-tidal CO2", None, [], false, Some("mm[Hg]");
    // Cardiac implants (IEEE 11073-10103 IDC nomenclature, partition 11): the items the IDCO reader
    // builds Devices and the session from. Codes as the IHE PCD-09 messages of the iCARDEA project
    // and the HL7 CardX-CIED IG use them; the 2009 names (`PG_`) and the later ones (`DEV_`) share the
    // codes. Every other IDC item is delivered under the code and reference id its message gives.
    IDC_DEV_TYPE = 720897, "MDC_IDC_DEV_TYPE", "Implanted device type", None, [], false, None;
    IDC_DEV_MODEL = 720898, "MDC_IDC_DEV_MODEL", "Implanted device model", None, [], false, None;
    IDC_DEV_SERIAL = 720899, "MDC_IDC_DEV_SERIAL", "Implanted device serial number", None, [], false, None;
    IDC_DEV_MFG = 720900, "MDC_IDC_DEV_MFG", "Implanted device manufacturer", None, [], false, None;
    IDC_DEV_IMPLANT_DT = 720901, "MDC_IDC_DEV_IMPLANT_DT", "Implant date", None, [], false, None;
    IDC_LEAD_MODEL = 720961, "MDC_IDC_LEAD_MODEL", "Lead model", None, [], false, None;
    IDC_LEAD_SERIAL = 720962, "MDC_IDC_LEAD_SERIAL", "Lead serial number", None, [], false, None;
    IDC_LEAD_MFG = 720963, "MDC_IDC_LEAD_MFG", "Lead manufacturer", None, [], false, None;
    IDC_LEAD_IMPLANT_DT = 720964, "MDC_IDC_LEAD_IMPLANT_DT", "Lead implant date", None, [], false, None;
    IDC_LEAD_LOCATION = 720966, "MDC_IDC_LEAD_LOCATION", "Lead location (chamber)", None, [], false, None;
    IDC_SESS_DTM = 721025, "MDC_IDC_SESS_DTM", "Interrogation session date and time", None, [], false, None;
    IDC_SESS_TYPE = 721026, "MDC_IDC_SESS_TYPE", "Interrogation session type", None, [], false, None;
    // -- glucose & CGM block (11073-10417 / -10425): owned by the glucose/CGM decoders --
    CONC_GLU_CAPILLARY_WHOLEBLOOD = 160184, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", "Glucose in capillary whole blood", None, [], false, Some("mg/dL");
    CONC_GLU_CAPILLARY_PLASMA = 160188, "MDC_CONC_GLU_CAPILLARY_PLASMA", "Glucose in capillary plasma", None, [], false, Some("mg/dL");
    CONC_GLU_VENOUS_WHOLEBLOOD = 160192, "MDC_CONC_GLU_VENOUS_WHOLEBLOOD", "Glucose in venous whole blood", None, [], false, Some("mg/dL");
    CONC_GLU_VENOUS_PLASMA = 160196, "MDC_CONC_GLU_VENOUS_PLASMA", "Glucose in venous plasma", None, [], false, Some("mg/dL");
    CONC_GLU_ARTERIAL_WHOLEBLOOD = 160200, "MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD", "Glucose in arterial whole blood", None, [], false, Some("mg/dL");
    CONC_GLU_ARTERIAL_PLASMA = 160204, "MDC_CONC_GLU_ARTERIAL_PLASMA", "Glucose in arterial plasma", None, [], false, Some("mg/dL");
    CONC_GLU_CONTROL = 160208, "MDC_CONC_GLU_CONTROL", "Glucose in control solution", None, [], false, Some("mg/dL");
    CONC_GLU_ISF = 160212, "MDC_CONC_GLU_ISF", "Glucose in interstitial fluid", None, [], false, Some("mg/dL");
    CONC_GLU_UNDETERMINED_WHOLEBLOOD = 160364, "MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD", "Glucose in whole blood (sample undetermined)", None, [], false, Some("mg/dL");
    CONC_GLU_UNDETERMINED_PLASMA = 160368, "MDC_CONC_GLU_UNDETERMINED_PLASMA", "Glucose in plasma (sample undetermined)", None, [], false, Some("mg/dL");
    CONC_HBA1C = 160220, "MDC_CONC_HBA1C", "HbA1c", None, [], false, Some("%");
    CTXT_GLU_MEAL = 8417864, "MDC_CTXT_GLU_MEAL", "Meal context", None, [], false, None;
    CTXT_GLU_MEAL_PREPRANDIAL = 8417868, "MDC_CTXT_GLU_MEAL_PREPRANDIAL", "Before meal", None, [], false, None;
    CTXT_GLU_MEAL_POSTPRANDIAL = 8417872, "MDC_CTXT_GLU_MEAL_POSTPRANDIAL", "After meal", None, [], false, None;
    CTXT_GLU_MEAL_FASTING = 8417876, "MDC_CTXT_GLU_MEAL_FASTING", "Fasting", None, [], false, None;
    CTXT_GLU_MEAL_CASUAL = 8417880, "MDC_CTXT_GLU_MEAL_CASUAL", "Casual (snacks, drinks)", None, [], false, None;
    // Added by the glucose/CGM decoders. 32-bit = partition << 16 | term; partition 128 (PHD_DM) = 8388608.
    // Sources: term codes from the 11073-20601/-10417 nomenclature headers reproduced in several public
    // PHD stacks (Antidote-style `nomenclature.h`, Java `Nomenclature` classes), which agree with each
    // other and with the 32-bit codes already in this block (meal 29256 -> 8417864).
    // Glucose meter device and sensor status (BITs): 128:29144 = 8417752, stated verbatim in the PHD IG
    // code system ASN1ToHL7 ("Glucose Meter Device and Sensor status", bits 8417752.0-.11).
    GLU_METER_DEV_STATUS = 8417752, "MDC_GLU_METER_DEV_STATUS", "Glucose meter device and sensor status", None, [], false, None;
    // Bedtime: 29300 in three nomenclature headers; one Java table says 29261 (where it also puts
    // MDC_BATCHCODE_COAG at 29300). UNCONFIRMED against RTMMS.
    CTXT_GLU_MEAL_BEDTIME = 8417908, "MDC_CTXT_GLU_MEAL_BEDTIME", "Bedtime", None, [], false, None;
    CTXT_GLU_SAMPLELOCATION = 8417844, "MDC_CTXT_GLU_SAMPLELOCATION", "Glucose sample location", None, [], false, None;
    CTXT_GLU_SAMPLELOCATION_FINGER = 8417848, "MDC_CTXT_GLU_SAMPLELOCATION_FINGER", "Finger", None, [], false, None;
    CTXT_GLU_SAMPLELOCATION_AST = 8417852, "MDC_CTXT_GLU_SAMPLELOCATION_AST", "Alternate site test", None, [], false, None;
    CTXT_GLU_SAMPLELOCATION_EARLOBE = 8417856, "MDC_CTXT_GLU_SAMPLELOCATION_EARLOBE", "Earlobe", None, [], false, None;
    CTXT_GLU_SAMPLELOCATION_CTRLSOLUTION = 8417860, "MDC_CTXT_GLU_SAMPLELOCATION_CTRLSOLUTION", "Control solution", None, [], false, None;
    CTXT_GLU_EXERCISE = 8417760, "MDC_CTXT_GLU_EXERCISE", "Exercise intensity", None, [], false, Some("%");
    CTXT_GLU_CARB = 8417764, "MDC_CTXT_GLU_CARB", "Carbohydrate intake", None, [], false, Some("g");
    CTXT_GLU_CARB_BREAKFAST = 8417768, "MDC_CTXT_GLU_CARB_BREAKFAST", "Carbohydrates, breakfast", None, [], false, Some("g");
    CTXT_GLU_CARB_LUNCH = 8417772, "MDC_CTXT_GLU_CARB_LUNCH", "Carbohydrates, lunch", None, [], false, Some("g");
    CTXT_GLU_CARB_DINNER = 8417776, "MDC_CTXT_GLU_CARB_DINNER", "Carbohydrates, dinner", None, [], false, Some("g");
    CTXT_GLU_CARB_SNACK = 8417780, "MDC_CTXT_GLU_CARB_SNACK", "Carbohydrates, snack", None, [], false, Some("g");
    CTXT_GLU_CARB_DRINK = 8417784, "MDC_CTXT_GLU_CARB_DRINK", "Carbohydrates, drink", None, [], false, Some("g");
    CTXT_GLU_CARB_SUPPER = 8417788, "MDC_CTXT_GLU_CARB_SUPPER", "Carbohydrates, supper", None, [], false, Some("g");
    CTXT_GLU_CARB_BRUNCH = 8417792, "MDC_CTXT_GLU_CARB_BRUNCH", "Carbohydrates, brunch", None, [], false, Some("g");
    CTXT_MEDICATION = 8417796, "MDC_CTXT_MEDICATION", "Medication", None, [], false, None;
    CTXT_MEDICATION_RAPIDACTING = 8417800, "MDC_CTXT_MEDICATION_RAPIDACTING", "Rapid-acting insulin", None, [], false, None;
    CTXT_MEDICATION_SHORTACTING = 8417804, "MDC_CTXT_MEDICATION_SHORTACTING", "Short-acting insulin", None, [], false, None;
    CTXT_MEDICATION_INTERMEDIATEACTING = 8417808, "MDC_CTXT_MEDICATION_INTERMEDIATEACTING", "Intermediate-acting insulin", None, [], false, None;
    CTXT_MEDICATION_LONGACTING = 8417812, "MDC_CTXT_MEDICATION_LONGACTING", "Long-acting insulin", None, [], false, None;
    CTXT_MEDICATION_PREMIX = 8417816, "MDC_CTXT_MEDICATION_PREMIX", "Pre-mixed insulin", None, [], false, None;
    CTXT_GLU_HEALTH = 8417820, "MDC_CTXT_GLU_HEALTH", "Health context", None, [], false, None;
    CTXT_GLU_HEALTH_MINOR = 8417824, "MDC_CTXT_GLU_HEALTH_MINOR", "Minor health issues", None, [], false, None;
    CTXT_GLU_HEALTH_MAJOR = 8417828, "MDC_CTXT_GLU_HEALTH_MAJOR", "Major health issues", None, [], false, None;
    CTXT_GLU_HEALTH_MENSES = 8417832, "MDC_CTXT_GLU_HEALTH_MENSES", "During menses", None, [], false, None;
    CTXT_GLU_HEALTH_STRESS = 8417836, "MDC_CTXT_GLU_HEALTH_STRESS", "Under stress", None, [], false, None;
    CTXT_GLU_HEALTH_NONE = 8417840, "MDC_CTXT_GLU_HEALTH_NONE", "No health issues", None, [], false, None;
    CTXT_GLU_TESTER = 8417884, "MDC_CTXT_GLU_TESTER", "Tester", None, [], false, None;
    CTXT_GLU_TESTER_SELF = 8417888, "MDC_CTXT_GLU_TESTER_SELF", "Self", None, [], false, None;
    CTXT_GLU_TESTER_HCP = 8417892, "MDC_CTXT_GLU_TESTER_HCP", "Health care professional", None, [], false, None;
    CTXT_GLU_TESTER_LAB = 8417896, "MDC_CTXT_GLU_TESTER_LAB", "Laboratory", None, [], false, None;
    // CGM (11073-10425). Device and sensor status 128:29452 = 8418060: PHD IG ASN1ToHL7 ("Continuous
    // Glucose Monitor Device and Sensor status"). Trend 29400 in PHD_DM: one nomenclature table only
    // (Java `Nomenclature.PHD_DM`); UNCONFIRMED against RTMMS.
    CGM_DEV_STAT = 8418060, "MDC_CGM_DEV_STAT", "CGM device and sensor status", None, [], false, None;
    CONC_GLU_TREND = 8418008, "MDC_CONC_GLU_TREND", "Glucose trend", None, [], false, Some("mg/dL/min");
    // -- end of glucose & CGM block --
}

/// MDC unit codes (partition 4, `MDC_DIM_*`) with their UCUM equivalents, for payloads that give units
/// as MDC codes only (HL7 v2 OBX-6 `266016^MDC_DIM_MMHG^MDC`). Sources: IEEE 11073-10101 as listed in
/// the IHE PCD Technical Framework examples and the PHD IG. The low five bits of a unit code are its
/// decimal prefix (16 deci, 17 centi, 18 milli, 19 micro): mL = L (1600) + 18, ms = s (2176) + 18.
pub static MDC_UNITS: &[(u32, &str, &str)] = &[
    (262656, "MDC_DIM_DIMLESS", "1"),
    (262688, "MDC_DIM_PERCENT", "%"),
    (263441, "MDC_DIM_CENTI_M", "cm"),
    (263744, "MDC_DIM_X_L", "L"),
    (263762, "MDC_DIM_MILLI_L", "mL"),
    (263875, "MDC_DIM_KILO_G", "kg"),
    (263890, "MDC_DIM_MILLI_G", "mg"),
    (263891, "MDC_DIM_MICRO_G", "ug"),
    (263904, "MDC_DIM_LB", "[lb_av]"),
    (264096, "MDC_DIM_KG_PER_M_SQ", "kg/m2"),
    (264274, "MDC_DIM_MILLI_G_PER_DL", "mg/dL"),
    (264306, "MDC_DIM_MILLI_G_PER_ML", "mg/mL"),
    (264320, "MDC_DIM_SEC", "s"),
    (264338, "MDC_DIM_MILLI_SEC", "ms"),
    (264352, "MDC_DIM_MIN", "min"),
    (264608, "MDC_DIM_PER_X_SEC", "/s"),
    (264864, "MDC_DIM_BEAT_PER_MIN", "/min"),
    (264928, "MDC_DIM_RESP_PER_MIN", "/min"),
    (265266, "MDC_DIM_MILLI_L_PER_HR", "mL/h"),
    (265619, "MDC_DIM_MICRO_G_PER_KG_PER_MIN", "ug/kg/min"),
    (265216, "MDC_DIM_X_L_PER_MIN", "L/min"),
    (265986, "MDC_DIM_HECTO_PASCAL", "hPa"),
    (265987, "MDC_DIM_KILO_PASCAL", "kPa"),
    (266016, "MDC_DIM_MMHG", "mm[Hg]"),
    (266048, "MDC_DIM_CM_H2O", "cm[H2O]"),
    (266098, "MDC_DIM_MILLI_BAR", "mbar"),
    (266112, "MDC_DIM_X_JOULES", "J"),
    (266400, "MDC_DIM_X_VOLT", "V"),
    (266418, "MDC_DIM_MILLI_VOLT", "mV"),
    (266419, "MDC_DIM_MICRO_VOLT", "uV"),
    (266432, "MDC_DIM_X_OHM", "Ohm"),
    (266560, "MDC_DIM_FAHR", "[degF]"),
    (266866, "MDC_DIM_MILLI_MOLE_PER_L", "mmol/L"),
    (268192, "MDC_DIM_DEGC", "Cel"),
];

/// The ECG leads: each lead's potential code and the lead's name.
pub static ECG_LEADS: &[(MdcCode, &str)] = &[
    (mdc::ECG_ELEC_POTL_I, "I"),
    (mdc::ECG_ELEC_POTL_II, "II"),
    (mdc::ECG_ELEC_POTL_III, "III"),
    (mdc::ECG_ELEC_POTL_AVR, "aVR"),
    (mdc::ECG_ELEC_POTL_AVL, "aVL"),
    (mdc::ECG_ELEC_POTL_AVF, "aVF"),
    (mdc::ECG_ELEC_POTL_V1, "V1"),
    (mdc::ECG_ELEC_POTL_V2, "V2"),
    (mdc::ECG_ELEC_POTL_V3, "V3"),
    (mdc::ECG_ELEC_POTL_V4, "V4"),
    (mdc::ECG_ELEC_POTL_V5, "V5"),
    (mdc::ECG_ELEC_POTL_V6, "V6"),
];

/// The name of the ECG lead a code is the potential of (`I`, `aVR`, `V1`).
pub fn ecg_lead(code: MdcCode) -> Option<&'static str> {
    ECG_LEADS.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

/// The potential code of a lead by its name as reference ids spell it (`III`, `AVR`, `V1`; any case).
pub fn ecg_lead_by_name(name: &str) -> Option<MdcCode> {
    ECG_LEADS
        .iter()
        .find(|(_, lead)| lead.eq_ignore_ascii_case(name))
        .map(|(code, _)| *code)
}

/// The UCUM unit of an MDC unit code, if the table knows it.
pub fn ucum_for_mdc_unit(code: u32) -> Option<&'static str> {
    MDC_UNITS.iter().find(|(c, _, _)| *c == code).map(|(_, _, ucum)| *ucum)
}

/// Codes whose LOINC depends on how the value is measured: glucose is one LOINC code in mass per volume
/// (mg/dL) and another in substance per volume (mmol/L), and the sample (capillary blood, plasma,
/// interstitial fluid) picks the LOINC system. Source: the LOINC codes of the gematik Health Device
/// Data Transfer value sets for blood glucose and continuous glucose measurement. Control solution has
/// none: it is not a measurement of the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoincByDimension {
    pub mdc: MdcCode,
    /// For a mass concentration (mg/dL, g/L).
    pub mass: &'static str,
    /// For a substance concentration (mmol/L).
    pub moles: &'static str,
    /// What the LOINC pair means, for findings.
    pub meaning: &'static str,
}

const fn by_dimension(
    mdc: MdcCode,
    mass: &'static str,
    moles: &'static str,
    meaning: &'static str,
) -> LoincByDimension {
    LoincByDimension {
        mdc,
        mass,
        moles,
        meaning,
    }
}

pub static LOINC_BY_DIMENSION: &[LoincByDimension] = &[
    // "Glucose in Capillary blood by Glucometer": what a home meter measures.
    by_dimension(
        mdc::CONC_GLU_CAPILLARY_WHOLEBLOOD,
        "41653-7",
        "14743-9",
        "glucose in capillary blood by glucometer",
    ),
    by_dimension(mdc::CONC_GLU_VENOUS_WHOLEBLOOD, "2339-0", "15074-8", "glucose in blood"),
    by_dimension(
        mdc::CONC_GLU_ARTERIAL_WHOLEBLOOD,
        "2339-0",
        "15074-8",
        "glucose in blood",
    ),
    by_dimension(
        mdc::CONC_GLU_UNDETERMINED_WHOLEBLOOD,
        "2339-0",
        "15074-8",
        "glucose in blood",
    ),
    // LOINC has one system for serum or plasma; MDC's plasma codes differ only by where blood was drawn.
    by_dimension(
        mdc::CONC_GLU_CAPILLARY_PLASMA,
        "2345-7",
        "14749-6",
        "glucose in serum or plasma",
    ),
    by_dimension(
        mdc::CONC_GLU_VENOUS_PLASMA,
        "2345-7",
        "14749-6",
        "glucose in serum or plasma",
    ),
    by_dimension(
        mdc::CONC_GLU_ARTERIAL_PLASMA,
        "2345-7",
        "14749-6",
        "glucose in serum or plasma",
    ),
    by_dimension(
        mdc::CONC_GLU_UNDETERMINED_PLASMA,
        "2345-7",
        "14749-6",
        "glucose in serum or plasma",
    ),
    by_dimension(
        mdc::CONC_GLU_ISF,
        "99504-3",
        "105272-9",
        "glucose in interstitial fluid",
    ),
];

/// What a UCUM concentration unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Mass per volume: mg/dL, g/L, ug/mL.
    Mass,
    /// Amount of substance per volume: mmol/L, umol/L.
    Moles,
}

/// The dimension of a concentration unit: a mass or an amount of substance over a volume.
pub fn concentration_dimension(ucum: &str) -> Option<Dimension> {
    let (amount, volume) = ucum.split_once('/')?;
    if !matches!(volume, "L" | "dL" | "cL" | "mL") {
        return None;
    }
    match amount {
        "kg" | "g" | "mg" | "ug" | "ng" => Some(Dimension::Mass),
        "mol" | "mmol" | "umol" | "nmol" => Some(Dimension::Moles),
        _ => None,
    }
}

/// The LOINC code of a measurement whose LOINC follows its unit, when the unit says which.
pub fn loinc_for_unit(code: MdcCode, ucum: &str) -> Option<&'static str> {
    let row = LOINC_BY_DIMENSION.iter().find(|row| row.mdc == code)?;
    Some(match concentration_dimension(ucum)? {
        Dimension::Mass => row.mass,
        Dimension::Moles => row.moles,
    })
}

/// Measurements about the device itself rather than the patient (device status, PCD-15 / PHD battery).
/// Their Observation's subject is the Device (PHD IG: battery level, bundle-example-1), and they need
/// no patient.
pub static DEVICE_STATUS_CODES: &[MdcCode] = &[
    MdcCode(67996),  // MDC_ATTR_VAL_BATT_CHARGE
    MdcCode(67976),  // MDC_ATTR_TIME_BATT_REMAIN
    MdcCode(67925),  // MDC_ATTR_POWER_STAT
    MdcCode(68020),  // MDC_ATTR_BATT_STAT
    MdcCode(68023),  // MDC_ATTR_CAPAC_BATT_FULL
    MdcCode(67880),  // MDC_ATTR_ID_MODEL
    MdcCode(531974), // MDC_ID_PROD_SPEC_HW
    MdcCode(531975), // MDC_ID_PROD_SPEC_SW
    MdcCode(531976), // MDC_ID_PROD_SPEC_FW
    // An infusion pump's configuration (IHE PCD TF-2 Appendix M, B. Braun captures).
    MdcCode(184520), // MDC_PUMP_DRUG_LIBRARY_NAME
    MdcCode(184516), // MDC_PUMP_DRUG_LIBRARY_CARE_AREA
    // Network communication controller attributes (IEEE 11073-10101 partition 1).
    MdcCode(69408), // MDC_NCC_WIRELESS_STATE
    MdcCode(69410), // MDC_NCC_WIRELESS_DEVICE_IPV4_ADDR
    MdcCode(69416), // MDC_NCC_WIRELESS_MAC
    MdcCode(69417), // MDC_NCC_WIRELESS_SSID
    MdcCode(69425), // MDC_NCC_WIRELESS_STRENGTH_PERCENT
    MdcCode(69427), // MDC_NCC_WIRELESS_TXRATE
];

/// Device facts that senders send with the code pending (`0`), named by their reference id: a pump's
/// rack and pillar position, B. Braun's power source and state.
pub static DEVICE_STATUS_REFERENCE_IDS: &[&str] = &[
    "MDC_ATTR_PILLAR_ASSEMBLY",
    "MDC_ATTR_PUMP_PILLAR_DETAILS",
    "MDCX_DMC_ATTR_POWER_SOURCE",
    "MDCX_DMC_ATTR_POWER_STATE",
];

/// What a living person can have, per code and unit: a value outside is a placeholder or a device
/// fault (body-composition scales send body fat 0 % while back-filling history), never a measurement.
/// The bounds are wide on purpose (record values of the literature, infants to the heaviest adults):
/// they catch what cannot be, not what is unusual.
pub struct PlausibleRange {
    pub code: MdcCode,
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
}

macro_rules! plausible {
    ($(($code:expr, [$($unit:literal => $min:literal ..= $max:literal),*]),)*) => {
        &[$($(PlausibleRange { code: $code, unit: $unit, min: $min, max: $max },)*)*]
    };
}

use mdc::*;

pub static PLAUSIBLE_RANGES: &[PlausibleRange] = plausible![
    (BODY_FAT, ["%" => 1.0..=75.0]),
    (MASS_BODY_FAT_FREE, ["kg" => 1.0..=250.0, "[lb_av]" => 2.0..=550.0]),
    (MASS_BODY_SOFT_LEAN, ["kg" => 1.0..=250.0, "[lb_av]" => 2.0..=550.0]),
    (BODY_WATER, ["kg" => 1.0..=200.0, "[lb_av]" => 2.0..=440.0, "%" => 1.0..=90.0]),
    (MASS_BODY_ACTUAL, ["kg" => 0.2..=650.0, "[lb_av]" => 0.4..=1450.0, "g" => 200.0..=650000.0]),
    (LEN_BODY_ACTUAL, ["m" => 0.2..=2.8, "cm" => 20.0..=280.0, "[in_i]" => 8.0..=110.0]),
    (RATIO_MASS_BODY_LEN_SQ, ["kg/m2" => 5.0..=200.0]),
    (PULS_OXIM_SAT_O2, ["%" => 1.0..=100.0]),
    (ECG_HEART_RATE, ["/min" => 10.0..=350.0, "{beat}/min" => 10.0..=350.0, "{beats}/min" => 10.0..=350.0]),
    (PULS_OXIM_PULS_RATE, ["/min" => 10.0..=350.0, "{beat}/min" => 10.0..=350.0, "{beats}/min" => 10.0..=350.0]),
    (PULS_RATE_NON_INV, ["/min" => 10.0..=350.0, "{beat}/min" => 10.0..=350.0, "{beats}/min" => 10.0..=350.0]),
    (RESP_RATE, ["/min" => 1.0..=150.0, "{breath}/min" => 1.0..=150.0]),
    (PRESS_BLD_NONINV_SYS, ["mm[Hg]" => 20.0..=350.0, "kPa" => 2.7..=46.7]),
    (PRESS_BLD_NONINV_DIA, ["mm[Hg]" => 5.0..=250.0, "kPa" => 0.7..=33.3]),
    (PRESS_BLD_NONINV_MEAN, ["mm[Hg]" => 10.0..=300.0, "kPa" => 1.3..=40.0]),
    (TEMP_BODY, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_RECT, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_ORAL, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_EAR, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_FINGER, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_TOE, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_AXILLA, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_GIT, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (TEMP_TYMP, ["Cel" => 10.0..=46.0, "[degF]" => 50.0..=115.0]),
    (CONC_GLU_CAPILLARY_WHOLEBLOOD, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_CAPILLARY_PLASMA, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_VENOUS_WHOLEBLOOD, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_VENOUS_PLASMA, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_ARTERIAL_WHOLEBLOOD, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_ARTERIAL_PLASMA, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_ISF, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_UNDETERMINED_WHOLEBLOOD, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
    (CONC_GLU_UNDETERMINED_PLASMA, ["mg/dL" => 5.0..=3000.0, "mmol/L" => 0.3..=166.0]),
];

/// The plausible range of `code` in `unit`, when the table has one.
pub fn plausible_range(code: MdcCode, unit: &str) -> Option<&'static PlausibleRange> {
    PLAUSIBLE_RANGES.iter().find(|r| r.code == code && r.unit == unit)
}

/// True for measurements about the device rather than the patient, by their code.
pub fn is_device_status(code: MdcCode) -> bool {
    DEVICE_STATUS_CODES.contains(&code)
}

/// True for a code the sender marks pending whose reference id names a device fact.
pub fn is_device_status_reference_id(reference_id: &str) -> bool {
    DEVICE_STATUS_REFERENCE_IDS.contains(&reference_id)
}

/// The table row for `code`, if the bridge knows it.
/// LOINC codes for a statistic of a vital sign, given beside the vital sign's own LOINC (the R4
/// vital-signs profile allows "a more granular LOINC code" next to the one it requires): code,
/// statistic, LOINC, LOINC's display. Only codes read in LOINC material; a statistic without one here
/// is told by `Observation.method` alone (LOINC's minima and maxima are for fixed periods, 12 or 24
/// hours, which a vendor's period is not known to be).
pub static STATISTIC_LOINC: &[(MdcCode, Statistic, &str, &str)] = &[
    (mdc::ECG_HEART_RATE, Statistic::Average, "103205-1", "Mean heart rate"),
    (
        mdc::PULS_RATE_NON_INV,
        Statistic::Average,
        "103205-1",
        "Mean heart rate",
    ),
    (
        mdc::PULS_OXIM_SAT_O2,
        Statistic::Average,
        "103209-3",
        "Mean oxygen saturation",
    ),
];

/// The LOINC code of a statistic of `code`, where LOINC has one.
pub fn statistic_loinc(code: MdcCode, statistic: Statistic) -> Option<(&'static str, &'static str)> {
    STATISTIC_LOINC
        .iter()
        .find(|(c, s, _, _)| *c == code && *s == statistic)
        .map(|(_, _, loinc, display)| (*loinc, *display))
}

pub fn lookup(code: MdcCode) -> Option<&'static CodeEntry> {
    let index = BY_CODE.binary_search_by_key(&code.0, |&(c, _)| c).ok()?;
    BY_CODE.get(index).and_then(|&(_, row)| TABLE.get(row))
}

/// The table's rows by code, sorted, for [`lookup`] (the mapper asks for every coding it writes).
static BY_CODE: std::sync::LazyLock<Vec<(u32, usize)>> = std::sync::LazyLock::new(|| {
    let mut rows: Vec<(u32, usize)> = TABLE
        .iter()
        .enumerate()
        .map(|(row, entry)| (entry.mdc.0, row))
        .collect();
    // The first row of a code wins, as a scan would find it.
    rows.sort_by_key(|&(code, row)| (code, row));
    rows.dedup_by_key(|&mut (code, _)| code);
    rows
});

/// HL7 table 0076, message types (v2.3 to v2.9): a refusal names a message type from this table, and
/// says "a message type outside HL7 table 0076" for anything else, so that no field value is quoted.
pub static HL7_MESSAGE_TYPES: &[&str] = &[
    "ACK", "ADR", "ADT", "BAR", "BPS", "BRP", "BRT", "BTS", "CCF", "CCI", "CCM", "CCQ", "CCR", "CCU", "CQU", "CRM",
    "CSU", "DBC", "DBU", "DEL", "DEO", "DER", "DFT", "DOC", "DPR", "DRC", "DRG", "DSR", "EAC", "EAN", "EAR", "EHC",
    "ESR", "ESU", "INR", "INU", "LSR", "LSU", "MDM", "MFD", "MFK", "MFN", "MFQ", "MFR", "NMD", "NMQ", "NMR", "OMB",
    "OMD", "OMG", "OMI", "OML", "OMN", "OMP", "OMQ", "OMS", "OPL", "OPR", "OPU", "ORA", "ORB", "ORD", "ORF", "ORG",
    "ORI", "ORL", "ORM", "ORN", "ORP", "ORR", "ORS", "ORU", "ORX", "OSM", "OSQ", "OSR", "OSU", "OUL", "PEX", "PGL",
    "PIN", "PMU", "PPG", "PPP", "PPR", "PPT", "PPV", "PRR", "PTR", "QBP", "QCK", "QCN", "QRY", "QSB", "QSX", "QVR",
    "RAR", "RAS", "RCI", "RCL", "RDE", "RDR", "RDS", "RDY", "REF", "RER", "RGR", "RGV", "ROR", "RPA", "RPI", "RPL",
    "RPR", "RQA", "RQC", "RQI", "RQP", "RRA", "RRD", "RRE", "RRG", "RRI", "RSP", "RTB", "SDR", "SIU", "SLR", "SMD",
    "SRM", "SRR", "SSR", "SSU", "STC", "STI", "TBR", "TCR", "TCU", "UDM", "VXQ", "VXR", "VXU", "VXX",
];

/// True for a message type of HL7 table 0076.
pub fn is_hl7_message_type(code: &str) -> bool {
    HL7_MESSAGE_TYPES.contains(&code)
}

/// Coding systems of HL7 table 0396 that device messages use, which a refusal or a left-out row may
/// name. Other names are named only in HL7's form for a local system (`99` and letters, such as
/// `99MNDRY`); anything else is "another coding system", so that no field value is quoted.
pub static HL7_CODING_SYSTEMS: &[&str] = &[
    "LN",
    "SCT",
    "SNM",
    "SNM3",
    "SNOMED-CT",
    "MDC",
    "MDIL",
    "MDIL-ALERT",
    "UCUM",
    "ISO+",
    "ANS+",
    "ISO",
    "L",
    "LOCAL",
    "HL7",
    "HL70078",
    "HL70136",
    "HL70396",
    "I9",
    "I9C",
    "I10",
    "CPT4",
    "NDC",
    "RXNORM",
];

/// Coding system `system` as a message may name it: quoted when of HL7 table 0396 or a local system
/// in HL7's form, else "another coding system".
pub fn coding_system_for_people(system: &str) -> String {
    let local = system.len() <= 10
        && system
            .strip_prefix("99")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase()));
    if local || HL7_CODING_SYSTEMS.contains(&system) {
        format!("{system:?}")
    } else {
        "another coding system".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_appears_once() {
        let mut seen = HashSet::new();
        for entry in TABLE {
            assert!(seen.insert(entry.mdc), "{} listed twice", entry.mdc);
            assert!(entry.reference_id.starts_with("MDC_"), "{}", entry.reference_id);
        }
    }

    #[test]
    fn glucose_loinc_follows_the_unit_and_the_sample() {
        assert_eq!(
            loinc_for_unit(mdc::CONC_GLU_CAPILLARY_WHOLEBLOOD, "mg/dL"),
            Some("41653-7")
        );
        assert_eq!(
            loinc_for_unit(mdc::CONC_GLU_CAPILLARY_WHOLEBLOOD, "mmol/L"),
            Some("14743-9")
        );
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_ISF, "mg/dL"), Some("99504-3"));
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_ISF, "mmol/L"), Some("105272-9"));
        assert_eq!(
            loinc_for_unit(mdc::CONC_GLU_UNDETERMINED_WHOLEBLOOD, "g/L"),
            Some("2339-0")
        );
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_VENOUS_PLASMA, "umol/L"), Some("14749-6"));
        // Control solution is not the patient; a unit that is no concentration says nothing.
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_CONTROL, "mg/dL"), None);
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_ISF, "mg/dL/min"), None);
        assert_eq!(loinc_for_unit(mdc::CONC_GLU_ISF, "kg"), None);
        assert_eq!(loinc_for_unit(mdc::PRESS_BLD_NONINV_SYS, "mg/dL"), None);
        for row in LOINC_BY_DIMENSION {
            let entry = lookup(row.mdc).map(|e| e.loinc);
            assert_eq!(entry, Some(None), "{} has a fixed LOINC as well", row.mdc);
        }
    }

    #[test]
    fn mdc_units_are_in_partition_4_and_listed_once() {
        let mut seen = HashSet::new();
        for (code, refid, _) in MDC_UNITS {
            assert_eq!(code >> 16, 4, "{refid} is not a dimension code");
            assert!(seen.insert(code), "{refid} listed twice");
        }
        assert_eq!(ucum_for_mdc_unit(266016), Some("mm[Hg]"));
        assert_eq!(ucum_for_mdc_unit(1), None);
    }

    #[test]
    fn vital_signs_carry_a_loinc_code() {
        for entry in TABLE.iter().filter(|e| e.vital_sign) {
            assert!(
                entry.loinc.is_some(),
                "{} is a vital sign without LOINC",
                entry.reference_id
            );
        }
    }
}
