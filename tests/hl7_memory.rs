//! What parsing an HL7 v2 message costs in memory, counted by the allocator (not a timer): at most
//! four times the message's size, whatever it holds (issue #14; issue #16 item 1: a megabyte of `~`
//! took 257 MB before). One test, so that no other test allocates while it counts.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fhirgate::adapters::hl7v2::message::Message;
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::Pipeline;

/// The system allocator, counting the bytes live and the most live at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    /// Counted as the old block and the new one both live: the worst a reallocation can cost.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes `work` had live at once beyond what was live before it.
fn peak_of<T>(work: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = work();
    (PEAK.load(Ordering::SeqCst) - before, result)
}

const HEADER: &str = "MSH|^~\\&|GW|FAC|||20261121100000||ORU^R01^ORU_R01|1|P|2.6\r";
const MIB: usize = 1 << 20;

/// A message of about `size` bytes: the header, then `unit` repeated, then `tail`.
fn message(unit: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut bytes = HEADER.as_bytes().to_vec();
    while bytes.len() + unit.len() + tail.len() <= MIB {
        bytes.extend_from_slice(unit);
    }
    bytes.extend_from_slice(tail);
    bytes
}

/// An OBX whose fifth field is `unit` repeated to a megabyte.
fn field_of(unit: &[u8]) -> Vec<u8> {
    let mut m = HEADER.as_bytes().to_vec();
    m.extend_from_slice(b"OBX|1|NM|");
    while m.len() < MIB {
        m.extend_from_slice(unit);
    }
    m
}

/// The tests count one at a time: another test's allocations would count too.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn parsing_takes_at_most_four_times_the_message_whatever_it_holds() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pathological: Vec<(&str, Vec<u8>)> = vec![
        ("one field of repetitions", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"OBX|1|NM|");
            m.extend(std::iter::repeat_n(b'~', MIB));
            m
        }),
        ("components and subcomponents", field_of(b"^&")),
        ("fields", field_of(b"|")),
        ("the smallest segments", message(b"ZZZ\r", b"")),
        ("an escape in every subcomponent", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"OBX|1|ST|");
            while m.len() < MIB {
                m.extend_from_slice(b"\\F\\^");
            }
            m
        }),
        ("escapes without a separator", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"NTE|1||");
            while m.len() < MIB {
                m.extend_from_slice(b"\\H\\");
            }
            m
        }),
        ("hex escapes", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"NTE|1||");
            while m.len() < MIB {
                m.extend_from_slice(b"\\X414243\\&");
            }
            m
        }),
        ("ISO-8859-1 text", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"NTE|1||");
            m.extend(std::iter::repeat_n(0xFCu8, MIB));
            m
        }),
        ("a segment of short fields with escapes", message(b"ZZZ|\\T\\\r", b"")),
    ];
    for (what, bytes) in &pathological {
        let (peak, parsed) = peak_of(|| Message::parse(bytes));
        let parsed = parsed.unwrap_or_else(|e| panic!("{what}: {e}"));
        let ratio = peak as f64 / bytes.len() as f64;
        println!("{what}: {} bytes, parse peak {peak} bytes ({ratio:.2}×)", bytes.len());
        assert!(
            ratio <= 4.0,
            "{what}: parsing took {ratio:.2}× the message ({peak} bytes)"
        );
        drop(parsed);
    }
    // The real captures too (small: a constant for the parser's own few allocations).
    for name in common::real_hl7_names() {
        let bytes = common::real_hl7(&name);
        let (peak, parsed) = peak_of(|| Message::parse(&bytes));
        assert!(parsed.is_ok(), "{name}");
        assert!(
            peak <= 4 * bytes.len() + 256,
            "{name}: {peak} bytes for {} bytes",
            bytes.len()
        );
    }
}

/// The whole check at the door, on the same messages: what one payload can cost a listener before
/// it is refused or stored. The bound the README documents per concurrent check.
#[test]
fn the_check_at_the_door_stays_within_its_documented_bound() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pipeline = Pipeline::new(common::settings());
    // Many small OBX rows that all map: the largest honest report a megabyte can hold.
    let rows = {
        let mut m = HEADER.as_bytes().to_vec();
        m.extend_from_slice(
            b"PID|||4711^^^H&1.2.3&ISO^MR\rOBR|1|||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|||20261121100000\r",
        );
        m.extend_from_slice(
            b"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0012211839000003^EUI-64\r",
        );
        let mut n = 2;
        while m.len() < MIB {
            m.extend_from_slice(
                format!(
                    "OBX|{n}|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.{n}|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r"
                )
                .as_bytes(),
            );
            n += 1;
        }
        m
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a megabyte of repetition separators", {
            let mut m = HEADER.as_bytes().to_vec();
            m.extend_from_slice(b"OBX|1|NM|");
            m.extend(std::iter::repeat_n(b'~', MIB));
            m
        }),
        ("the smallest segments", message(b"ZZZ\r", b"")),
        ("a megabyte of observations", rows),
    ];
    for (what, bytes) in &cases {
        let (peak, _) = peak_of(|| pipeline.check(AdapterKind::Hl7v2, bytes).map(|_| ()));
        let ratio = peak as f64 / bytes.len() as f64;
        println!("{what}: {} bytes, check peak {peak} bytes ({ratio:.1}×)", bytes.len());
        assert!(
            ratio <= 64.0,
            "{what}: the check took {ratio:.1}× the message ({peak} bytes)"
        );
    }
}
