//! Unit tests of `message`, kept beside it so the decoder file stays readable.

use super::encoding::{BYTE_ORDER_MARK, ESCAPE_SHOWN, MLLP_START};
use super::*;
use crate::adapters::hl7v2::error::{EscapeProblem, Hl7Error};

const PHILIPS: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7");
const ACME: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd01_episodic_nibp_acme_gateway_example.hl7");
const DEC_BP: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd01_dec_soap_wan_bp_example.hl7");
const MINDRAY: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd04_acm_mindray_low_spo2_alarm_start_example.hl7");
const BBRAUN_START: &str =
    include_str!("../../../../fixtures/hl7v2/ihe_pcd04_acm_bbraun_pump_occlusion_start_example.hl7");
const BBRAUN_END: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd04_acm_bbraun_pump_occlusion_end_example.hl7");
const PUMP: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd10_iec_infusion_delivery_start_example.hl7");
const ACK: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd03_ack_o15_accept_example1.hl7");
const DOPAMINE: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd03_rgv_o15_dopamine_example1.hl7");
const SALINE: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd03_rgv_o15_normal_saline_example2.hl7");
const REJECT: &str = include_str!("../../../../fixtures/hl7v2/ihe_pcd03_rrg_o16_application_reject_example.hl7");

fn parse(text: &str) -> Message {
    Message::parse(text.as_bytes()).unwrap()
}

fn parse_err(bytes: &[u8]) -> Hl7Error {
    Message::parse(bytes).unwrap_err()
}

/// The OBX whose set id (OBX-1) is `set_id`.
fn obx<'a>(message: &'a Message, set_id: &str) -> Segment<'a> {
    message
        .segments_named("OBX")
        .find(|s| s.get(1, 1) == Some(set_id))
        .unwrap()
}

const HEADER: &str = "MSH|^~\\&|GW|FAC|||20150122182658||ORU^R01^ORU_R01|42|P|2.6\r";

#[test]
fn every_ihe_pcd_example_parses() {
    for (text, segments) in [
        (PHILIPS, 21),
        (ACME, 11),
        (DEC_BP, 8),
        (MINDRAY, 9),
        (BBRAUN_START, 9),
        (BBRAUN_END, 9),
        (PUMP, 27),
        (ACK, 2),
        (DOPAMINE, 7),
        (SALINE, 6),
        (REJECT, 3),
    ] {
        let message = parse(text);
        assert_eq!(
            message.segments().len(),
            segments,
            "{}",
            message.control_id().unwrap_or_default()
        );
        assert_eq!(message.segments().next().unwrap().id(), "MSH");
        let positions: Vec<usize> = message.segments().map(|s| s.position()).collect();
        assert_eq!(positions, (1..=segments).collect::<Vec<_>>());
    }
}

#[test]
fn philips_monitor_pcd01_values() {
    let message = parse(PHILIPS);
    assert_eq!(message.message_type(), Some("ORU"));
    assert_eq!(message.trigger_event(), Some("R01"));
    assert_eq!(message.message_structure(), Some("ORU_R01"));
    assert_eq!(message.control_id(), Some("HP0122182658686QQ000CND119C0WS61"));
    assert_eq!(message.version(), Some("2.6"));
    assert_eq!(message.profile_ids(), ["IHE_PCD_001"]);
    // Pure ASCII, MSH-18 says 8859/1.
    assert_eq!(message.charset(), Charset::Latin1);

    let msh = message.first("MSH").unwrap();
    assert_eq!(msh.field(1).raw(), "|");
    assert_eq!(msh.field(2).raw(), "^~\\&");
    assert_eq!(msh.get(2, 1), Some("^~\\&"));
    assert_eq!(msh.get(3, 1), Some("PAT_DEVICE_PHILIPS_C"));
    assert_eq!(msh.get(18, 1), Some("8859/1"));
    assert_eq!(msh.get(21, 3), Some("1.3.6.1.4.1.19376.1.6.1.1.1"));
    assert_eq!(msh.get(21, 4), Some("ISO"));

    let systolic = obx(&message, "4");
    assert_eq!(systolic.position(), 8);
    assert_eq!(systolic.get(2, 1), Some("NM"));
    assert_eq!(systolic.get(3, 1), Some("150021"));
    assert_eq!(systolic.get(3, 2), Some("MDC_PRESS_BLD_NONINV_SYS"));
    assert_eq!(systolic.get(4, 1), Some("1.1.1.5"));
    assert_eq!(systolic.get(5, 1), Some("117"));
    assert_eq!(systolic.get(6, 1), Some("266016"));
    assert_eq!(systolic.field(6).raw(), "266016^MDC_DIM_MMHG^MDC");
    assert_eq!(systolic.get(7, 1), Some("90-160"));
    assert_eq!(systolic.get(11, 1), Some("X"));
    assert_eq!(systolic.get(14, 1), Some("20150122115000"));
    assert!(systolic.field(8).is_empty());
    assert_eq!(systolic.get(8, 1), None);
    assert_eq!(obx(&message, "11").get(7, 1), Some("<500"));
    assert_eq!(
        obx(&message, "1").get(18, 1),
        Some("e86c094f-f751-4acf-92b2-38f11c1f6f57-Device")
    );

    // PID-5.3 is HL7's explicit null: kept as the two quotes.
    let pid = message.first("PID").unwrap();
    assert_eq!(pid.get(5, 1), Some("Hon"));
    assert_eq!(pid.get(5, 3), Some("\"\""));
    assert_eq!(pid.get(3, 5), Some("MR"));
    assert_eq!(message.first("PV1").unwrap().field(3).raw(), "HO Surgery^OR^1");
    assert_eq!(message.segments_named("OBX").count(), 17);
    assert!(message.first("NTE").is_none());
}

#[test]
fn acme_gateway_pcd01_values() {
    let message = parse(ACME);
    assert_eq!(message.charset(), Charset::Utf8);
    assert_eq!(message.control_id(), Some("0104ef190d604db188c3"));
    let msh = message.first("MSH").unwrap();
    assert_eq!(msh.get(3, 2), Some("080019FFFE3ED02D"));
    assert_eq!(msh.get(3, 3), Some("EUI-64"));
    assert_eq!(msh.get(18, 1), Some("UNICODE UTF-8"));
    assert_eq!(msh.get(21, 3), Some("1.3.6.1.4.1.19376.1.6.1.1.1"));
    let systolic = obx(&message, "4");
    assert_eq!(systolic.get(5, 1), Some("111"));
    assert_eq!(systolic.get(6, 1), Some("mm[Hg]"));
    assert_eq!(systolic.get(6, 3), Some("UCUM"));
    assert_eq!(systolic.get(18, 1), Some("080019FFFE3ED02D172.16.172.135"));
    assert_eq!(systolic.get(18, 2), Some("GATEWAY_ACME"));
    assert_eq!(obx(&message, "7").get(6, 1), Some("{beat}/min"));
}

#[test]
fn dec_bp_pcd01_values() {
    let message = parse(DEC_BP);
    assert_eq!(message.profile_ids(), ["IHE PCD ORU-R01 2006"]);
    assert_eq!(
        message.first("MSH").unwrap().get(21, 3),
        Some("2.16.840.1.113883.9.n.m")
    );
    let systolic = obx(&message, "3");
    assert_eq!((systolic.get(4, 1), systolic.get(5, 1)), (Some("1.0.1.1"), Some("120")));
    assert_eq!(obx(&message, "1").get(18, 2), Some("EUI-64"));
}

#[test]
fn mindray_pcd04_repetitions_and_subcomponents() {
    let message = parse(MINDRAY);
    assert_eq!(
        (message.message_type(), message.trigger_event()),
        (Some("ORU"), Some("R40"))
    );
    assert_eq!(
        message.first("MSH").unwrap().get(21, 3),
        Some("1.3.6.1.4.1.19376.1.6.4.4.1")
    );
    // OBX-8 abnormal flags: L~PM~SP.
    let flags = obx(&message, "1").field(8);
    let values: Vec<_> = flags.repetitions().map(|r| r.component(1).unwrap()).collect();
    assert_eq!(values, ["L", "PM", "SP"]);
    assert_eq!(flags.repetition(2).unwrap().component(1), Some("PM"));
    assert!(flags.repetition(4).is_none());
    assert_eq!(flags.raw(), "L~PM~SP");
    // OBR-29 parent: ^1&MINDRAY_EGATEWAY&00A037EB2175780F&EUI-64
    let parent = message.first("OBR").unwrap().field(29);
    assert_eq!(parent.component(1), None);
    assert_eq!(parent.component(2), Some("1"));
    assert_eq!(parent.subcomponent(2, 2), Some("MINDRAY_EGATEWAY"));
    assert_eq!(parent.subcomponent(2, 4), Some("EUI-64"));
    assert_eq!(parent.subcomponent(2, 5), None);
    assert_eq!(obx(&message, "2").get(5, 1), Some("88"));
    assert_eq!(obx(&message, "2").get(4, 1), Some("1.3.1.150456.2"));
}

#[test]
fn bbraun_pcd04_keeps_spaces_inside_components() {
    let message = parse(BBRAUN_START);
    let msh = message.first("MSH").unwrap();
    assert_eq!(msh.get(5, 2), Some(" 00095CFFFE741952 "));
    assert_eq!(obx(&message, "3").get(5, 1), Some("start"));
    assert_eq!(obx(&message, "1").get(5, 9), Some("Occlusion"));
    assert_eq!(
        parse(BBRAUN_END).first("MSH").unwrap().get(21, 3),
        Some("1.3.6.1.4.1.19376.1.6.1.4.1")
    );
}

#[test]
fn pump_pcd10_values() {
    let message = parse(PUMP);
    assert_eq!(
        (message.message_type(), message.trigger_event()),
        (Some("ORU"), Some("R42"))
    );
    let status = obx(&message, "7");
    assert_eq!(status.get(5, 1), None);
    assert_eq!(status.get(5, 2), Some("pump-status-infusing"));
    let rate = obx(&message, "14");
    assert_eq!((rate.get(5, 1), rate.get(6, 4)), (Some("15.4"), Some("mL/h")));
    // MSH-21.3 has a leading space in the TF example; the parser keeps it.
    assert_eq!(
        message.first("MSH").unwrap().get(21, 3),
        Some(" 1.3.6.1.4.1.19376.1.6.4.10")
    );
}

#[test]
fn mixed_terminators_and_blank_lines() {
    let text = b"MSH|^~\\&|A\r\nPID|1\nPV1|2\r\r\n\n  \nOBX|3\rNTE|4\n\r";
    let message = Message::parse(text).unwrap();
    let ids: Vec<_> = message.segments().map(|s| (s.id(), s.position(), s.offset())).collect();
    assert_eq!(
        ids,
        [
            ("MSH", 1, 0),
            ("PID", 2, 12),
            ("PV1", 3, 18),
            ("OBX", 4, 30),
            ("NTE", 5, 36)
        ]
    );
    assert_eq!(message.first("OBX").unwrap().get(1, 1), Some("3"));
    assert_eq!(message.first("MSH").unwrap().get(3, 1), Some("A"));
}

#[test]
fn mllp_framing_and_byte_order_mark_are_removed() {
    let mut framed = vec![MLLP_START];
    framed.extend_from_slice(BYTE_ORDER_MARK);
    framed.extend_from_slice(HEADER.as_bytes());
    framed.extend_from_slice(b"OBX|1|NM\r\x1c\r");
    let message = Message::parse(&framed).unwrap();
    assert_eq!(message.segments().len(), 2);
    assert_eq!(message.segments().next().unwrap().offset(), 4);
    assert_eq!(message.first("OBX").unwrap().get(2, 1), Some("NM"));

    let inside = format!("{HEADER}OBX|1|N\x0bM\r");
    let err = parse_err(inside.as_bytes());
    assert!(
        matches!(err, Hl7Error::StrayByte { offset, byte: 0x0B, .. } if offset == HEADER.len() + 7),
        "{err}"
    );
    assert_eq!(err.offset(), Some(HEADER.len() + 7));
    let early_end = format!("{HEADER}\x1c\rOBX|1\r");
    assert!(matches!(
        parse_err(early_end.as_bytes()),
        Hl7Error::StrayByte { byte: 0x1C, .. }
    ));
}

#[test]
fn escape_sequences() {
    let text = format!(
        "{HEADER}OBX|1|ST|a\\S\\b^c|x\\F\\y\\R\\z\\T\\w\\E\\v|line1\\.br\\line2|\\H\\bold\\N\\ text|\\X41\\\\XC3A9\\\r"
    );
    let message = parse(&text);
    let segment = message.first("OBX").unwrap();
    // Escaped delimiters never split.
    assert_eq!(segment.get(3, 1), Some("a^b"));
    assert_eq!(segment.get(3, 2), Some("c"));
    assert_eq!(segment.field(3).raw(), "a\\S\\b^c");
    assert_eq!(segment.get(4, 1), Some("x|y~z&w\\v"));
    assert_eq!(segment.field(4).repetitions().count(), 1);
    assert_eq!(segment.get(5, 1), Some("line1\nline2"));
    assert_eq!(segment.get(6, 1), Some("bold text"));
    assert_eq!(segment.get(7, 1), Some("Aé"));
    assert_eq!(message.charset(), Charset::Utf8);
}

#[test]
fn hex_escape_follows_the_declared_latin1_charset() {
    let text = "MSH|^~\\&|GW|FAC|||20150122182658||ORU^R01|1|P|2.6|||AL|NE||8859/1\rPID|||1||M\\XFC\\ller\r";
    let message = parse(text);
    assert_eq!(message.charset(), Charset::Latin1);
    assert_eq!(message.first("PID").unwrap().get(5, 1), Some("Müller"));
}

#[test]
fn custom_encoding_characters() {
    // Component #, repetition *, escape $, subcomponent @, truncation % (v2.7).
    let text = "MSH|#*$@%|APP#1.2.3#ISO|FAC|||20150122182658||ORU#R01|7|P|2.7\r\
                PID|1||a#b*c@d$F$$S$$P$$E$^&~\\\r";
    let message = parse(text);
    let encoding = message.encoding();
    assert_eq!(
        (
            encoding.field(),
            encoding.component(),
            encoding.repetition(),
            encoding.escape()
        ),
        ('|', '#', '*', '$')
    );
    assert_eq!((encoding.subcomponent(), encoding.truncation()), ('@', Some('%')));
    assert_eq!(message.first("MSH").unwrap().field(2).raw(), "#*$@%");
    assert_eq!(message.first("MSH").unwrap().get(3, 2), Some("1.2.3"));
    assert_eq!(
        (message.message_type(), message.trigger_event()),
        (Some("ORU"), Some("R01"))
    );
    let field = message.first("PID").unwrap().field(3);
    assert_eq!(field.repetitions().count(), 2);
    assert_eq!((field.component(1), field.component(2)), (Some("a"), Some("b")));
    let second = field.repetition(2).unwrap();
    assert_eq!(second.subcomponent(1, 1), Some("c"));
    assert_eq!(second.subcomponent(1, 2), Some("d|#%$^&~\\"));
    assert_eq!(second.component_count(), 1);
}

#[test]
fn another_field_separator() {
    let message = parse("MSH!^~\\&!GW!FAC\rOBX!1!NM!a|b^c\\F\\\r");
    assert_eq!(message.encoding().field(), '!');
    let segment = message.first("OBX").unwrap();
    assert_eq!((segment.get(3, 1), segment.get(3, 2)), (Some("a|b"), Some("c!")));
    assert_eq!(message.first("MSH").unwrap().field(1).raw(), "!");
}

#[test]
fn repetitions_and_subcomponents() {
    let message = parse(&format!("{HEADER}PID|1||111^^^A&1.2&ISO^MR~222^^^B^PI~~333\r"));
    let ids = message.first("PID").unwrap().field(3);
    assert_eq!(ids.repetitions().count(), 4);
    let first = ids.repetition(1).unwrap();
    assert_eq!(
        (first.component(1), first.component(2), first.component(4)),
        (Some("111"), None, Some("A"))
    );
    assert_eq!(
        (first.subcomponent(4, 2), first.subcomponent(4, 3)),
        (Some("1.2"), Some("ISO"))
    );
    assert_eq!(first.component(5), Some("MR"));
    assert_eq!(ids.repetition(2).unwrap().component(5), Some("PI"));
    assert_eq!(ids.repetition(3).unwrap().component(1), None);
    assert_eq!(ids.repetition(4).unwrap().component(1), Some("333"));
    assert!(!ids.is_empty());
}

#[test]
fn absent_empty_and_null_fields() {
    let message = parse(&format!("{HEADER}OBX|1||\"\"|^~&||\r"));
    let segment = message.first("OBX").unwrap();
    assert!(segment.field(2).is_empty() && segment.field(2).repetitions().next().is_none());
    assert!(segment.field(3).is_null() && !segment.field(3).is_empty());
    assert_eq!(segment.get(3, 1), Some("\"\""));
    assert!(segment.field(4).is_empty() && !segment.field(4).is_null());
    assert_eq!(segment.field_count(), 6);
    for n in [0, 5, 6, 7, 99] {
        assert!(segment.field(n).is_empty());
        assert_eq!(segment.get(n, 1), None);
    }
    assert_eq!(segment.get(1, 0), None);
    assert_eq!(segment.field(1).subcomponent(1, 0), None);
    let bare = parse(&format!("{HEADER}NTE\r"));
    assert!(bare.first("NTE").unwrap().field_count() == 0);
}

#[test]
fn iso_8859_1_bytes() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"PID|||1||M\xFCller^J\xF6rg\xA0\r");
    let message = Message::parse(&bytes).unwrap();
    assert_eq!(message.charset(), Charset::Latin1);
    let pid = message.first("PID").unwrap();
    assert_eq!((pid.get(5, 1), pid.get(5, 2)), (Some("Müller"), Some("Jörg\u{A0}")));

    let utf8 = parse(&format!("{HEADER}PID|||1||Müller^Jörg\r"));
    assert_eq!(utf8.charset(), Charset::Utf8);
    assert_eq!(utf8.first("PID").unwrap().get(5, 1), Some("Müller"));
}

#[test]
fn empty_input() {
    for input in [&b""[..], b"\r\n\r\n", b"\x0b\x1c\r", b"\xEF\xBB\xBF", b"   \n"] {
        assert_eq!(parse_err(input), Hl7Error::Empty, "{input:?}");
    }
    assert!(Hl7Error::Empty.to_string().starts_with("HL7 v2 message: "));
}

#[test]
fn first_segment_must_be_msh() {
    let err = parse_err(b"\r\nPID|1\rMSH|^~\\&\r");
    assert_eq!(
        err,
        Hl7Error::FirstSegmentNotMsh {
            found: "PID".into(),
            offset: 2
        }
    );
    assert_eq!(err.segment(), Some(1));
    assert!(err
        .to_string()
        .starts_with("HL7 v2 message: segment 1 (PID): a message must start with an MSH"));
    assert!(matches!(parse_err(b"msh|^~\\&|"), Hl7Error::FirstSegmentNotMsh { found, .. } if found == "msh"));
    // A first line that is not a segment id is data (found by the fuzzer: NUL bytes, and in real life a
    // patient's name after a lost MSH): never shown.
    let err = parse_err(b"Doe John 1961\rMSH|^~\\&\r");
    assert!(matches!(&err, Hl7Error::FirstSegmentNotMsh { found, .. } if found == "not a segment id"));
    assert!(!err.to_string().contains("Doe"), "{err}");
}

#[test]
fn msh_too_short() {
    assert_eq!(parse_err(b"MSH|^~\\"), Hl7Error::MshTooShort { offset: 0, len: 7 });
    // A line break inside MSH-2 ends the segment early.
    assert_eq!(parse_err(b"MSH|^~\r\\&|A"), Hl7Error::MshTooShort { offset: 0, len: 6 });
    assert_eq!(parse_err(b"MSH"), Hl7Error::MshTooShort { offset: 0, len: 3 });
}

#[test]
fn invalid_encoding_characters() {
    let cases: [(&[u8], usize, &str, &str); 6] = [
        (b"MSHA^~\\&A", 1, "A", "field separator"),
        (b"MSH|^~\\|A|B", 2, "^~\\", "3 character(s)"),
        (b"MSH|^~\\&#!|A", 2, "^~\\&#!", "6 characters"),
        (b"MSH|^~\\A|B", 2, "^~\\A", "character 4"),
        (b"MSH|^~ &|B", 2, "^~ &", "character 3"),
        (b"MSH|^~\\^|B", 2, "^~\\^", "`^` appears more than once"),
    ];
    for (input, field_number, declared, rule_part) in cases {
        let err = parse_err(input);
        let Hl7Error::InvalidEncodingCharacters {
            field,
            offset,
            ref text,
            ref rule,
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!((field, text.as_str()), (field_number, declared), "{err}");
        assert_eq!(offset, field_number + 2);
        assert!(rule.contains(rule_part), "{err}");
        assert!(err.to_string().starts_with(&format!(
            "HL7 v2 message: segment 1 (MSH) field {field_number} at byte {}: ",
            field_number + 2
        )));
        if declared.len() > 1 {
            assert!(!err.to_string().contains(declared), "{err}");
        }
    }
}

#[test]
fn segment_ids_must_be_three_uppercase_alphanumerics() {
    let base = format!("{HEADER}PID|1\r");
    for (line, id) in [
        ("ZZ|1", "ZZ"),
        ("obx|1|NM", "obx"),
        ("OBX1|1", "OBX1"),
        ("O-X|1", "O-X"),
        ("ZZ", "ZZ"),
    ] {
        let err = parse_err(format!("{base}{line}\r").as_bytes());
        assert_eq!(
            err,
            Hl7Error::InvalidSegmentId {
                segment: 3,
                offset: base.len(),
                id: id.into()
            },
            "{line}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("HL7 v2 message: segment 3 at byte {}", base.len())),
            "{text}"
        );
        // The line's text is not repeated: it may be field data after a stray line break.
        assert!(!text.contains(&format!("`{id}`")), "{text}");
    }
    assert!(parse(&format!("{base}ZP1|x\r")).first("ZP1").is_some());
    assert_eq!(
        parse_err(format!("{HEADER}{HEADER}").as_bytes()),
        Hl7Error::SecondMsh {
            segment: 2,
            offset: HEADER.len()
        }
    );
}

fn escape_err(value: &str) -> Hl7Error {
    parse_err(format!("{HEADER}PID|1\rOBX|1|ST|3^x|4|a^{value}\r").as_bytes())
}

#[test]
fn bad_escapes_name_segment_field_and_byte() {
    // OBX-5 component 2 starts after "OBX|1|ST|3^x|4|a^".
    let value_at = HEADER.len() + "PID|1\r".len() + "OBX|1|ST|3^x|4|a^".len();
    let cases = [
        ("\\Q\\", 0, "\\Q\\", EscapeProblem::Unknown),
        ("ab\\\\", 2, "\\\\", EscapeProblem::Unknown),
        ("abc\\F", 3, "\\F", EscapeProblem::Unterminated),
        ("x\\C2842\\y", 1, "\\C2842\\", EscapeProblem::Unsupported),
        ("\\M2442\\", 0, "\\M2442\\", EscapeProblem::Unsupported),
        ("\\Zlocal\\", 0, "\\Zlocal\\", EscapeProblem::Unsupported),
        ("\\.sp\\", 0, "\\.sp\\", EscapeProblem::Unsupported),
        ("\\X4\\", 0, "\\X4\\", EscapeProblem::BadHex),
        ("\\XZZ\\", 0, "\\XZZ\\", EscapeProblem::BadHex),
        ("\\X\\", 0, "\\X\\", EscapeProblem::BadHex),
        ("ok\\XE9\\", 2, "\\XE9\\", EscapeProblem::NotUtf8),
        ("\\P\\", 0, "\\P\\", EscapeProblem::NoTruncationCharacter),
    ];
    for (value, at, escape_text, expected) in cases {
        let err = escape_err(value);
        assert_eq!(
            err,
            Hl7Error::Escape {
                segment: 3,
                segment_id: "OBX".into(),
                field: 5,
                repetition: 1,
                component: 2,
                subcomponent: 1,
                offset: value_at + at,
                escape: escape_text.into(),
                problem: expected,
            },
            "{value}"
        );
        assert!(
            err.to_string().starts_with("HL7 v2 message: segment 3 (OBX) field 5: "),
            "{err}"
        );
        assert_eq!(err.offset(), Some(value_at + at));
    }
    // An escape cannot span a delimiter: the component split leaves it unterminated.
    assert!(matches!(
        escape_err("\\X4^1\\"),
        Hl7Error::Escape {
            problem: EscapeProblem::Unterminated,
            ..
        }
    ));
    // Escapes in MSH fields are checked too, with MSH numbering.
    let err = parse_err(b"MSH|^~\\&|A\\Q\\|B\r");
    assert!(
        matches!(
            err,
            Hl7Error::Escape {
                segment: 1,
                field: 3,
                offset: 10,
                ..
            }
        ),
        "{err}"
    );
    let long = escape_err(&format!("\\{}", "A".repeat(100)));
    assert!(matches!(long, Hl7Error::Escape { ref escape, .. } if escape.chars().count() == ESCAPE_SHOWN + 1));
}

fn walk(message: &Message) {
    let _ = (
        message.message_type(),
        message.trigger_event(),
        message.message_structure(),
    );
    let _ = (
        message.control_id(),
        message.version(),
        message.profile_ids(),
        message.encoding(),
    );
    for segment in message.segments() {
        for n in 0..=segment.field_count() + 1 {
            let field = segment.field(n);
            let _ = (field.raw(), field.is_empty(), field.is_null(), field.offset());
            for c in 0..4 {
                let _ = (segment.get(n, c), field.component(c), field.subcomponent(c, 2));
            }
            for r in 0..=field.repetitions().count() {
                if let Some(repetition) = field.repetition(r) {
                    let _ = (
                        repetition.component(1),
                        repetition.subcomponent(2, 2),
                        repetition.component_count(),
                    );
                }
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        if let Ok(message) = Message::parse(&bytes) {
            walk(&message);
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(
        tail in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
    ) {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(message) = Message::parse(&bytes) {
            walk(&message);
        }
    }

    #[test]
    fn arbitrary_ascii_lines_never_panic(
        header in "MSH[|!]?[\\^~\\\\&#*$@%A ]{0,6}[|!]?[ -~]{0,40}",
        lines in proptest::collection::vec("[ -~]{0,60}", 0..8),
        terminator in "(\r|\n|\r\n)",
    ) {
        let text = std::iter::once(header).chain(lines).collect::<Vec<_>>().join(terminator.as_str());
        if let Ok(message) = Message::parse(text.as_bytes()) {
            walk(&message);
            proptest::prop_assert_eq!(message.segments().next().map(|s| s.id()), Some("MSH"));
        }
    }
}

#[test]
fn escape_errors_do_not_repeat_field_data() {
    let text = "MSH|^~\\&|GW|X|||20261121100000||ORU^R01|1|P|2.6\rPID|||123||Doe\\Jane Marie\r";
    let err = Message::parse(text.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("segment 2 (PID) field 5"), "{err}");
    assert!(
        !err.contains("Jane"),
        "a patient's name must not appear in the error: {err}"
    );
}
