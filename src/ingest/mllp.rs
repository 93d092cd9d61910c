//! The MLLP listener (HL7 v2 Minimal Lower Layer Protocol over TCP): hospital gateways, pumps and
//! monitors send IHE PCD messages framed as `0x0B message 0x1C 0x0D`, one after another on a
//! connection, and wait for an original-mode acknowledgement for each.
//!
//! A message is acknowledged `AA` only once it is durably in the outbox; a malformed one `AE`, a
//! message the bridge does not take (an order, say) `AR`, each with an ERR segment that names the
//! problem, and nothing is stored for them. The transport parses only what an ACK needs and to decide
//! whether the message is a device observation report it can map later; mapping happens at delivery.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::adapters::hl7v2::message::Message;
use crate::adapters::hl7v2::pcd::{self, PcdError, PcdSettings};
use crate::adapters::hl7v2::report::read_report;
use crate::delivery::outbox::{Outbox, OutboxRecord};
use crate::metrics::{Metrics, Transport};

const START_BLOCK: u8 = 0x0B;
const END_BLOCK: [u8; 2] = [0x1C, 0x0D];

/// Listener limits, and TLS.
#[derive(Debug, Clone)]
pub struct MllpConfig {
    /// The largest message accepted; a larger one is answered `AR` and the connection closed.
    pub max_message_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// MLLP over TLS (with a client CA in it, mutual TLS); `None` for plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for MllpConfig {
    fn default() -> Self {
        MllpConfig {
            max_message_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            tls: None,
        }
    }
}

/// The acknowledgement codes of HL7 v2 original mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted: durably stored.
    Accept,
    /// Error: the message is malformed.
    Error,
    /// Reject: the bridge does not take this kind of message, or it is too large.
    Reject,
}

impl AckCode {
    fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// Serves MLLP on `listener` until `shutdown` completes, then waits for open connections to finish
/// the message they are on (at most `idle_timeout`).
pub async fn serve(
    listener: TcpListener,
    outbox: Outbox,
    config: MllpConfig,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let acks = Arc::new(AtomicU64::new(1));
    let mut connections = JoinSet::new();
    let (stopping, stop_signal) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    // A failed accept (e.g. too many open files) must not end the listener.
                    Err(_) => continue,
                };
                let context = Context { outbox: outbox.clone(), metrics: Arc::clone(&metrics), acks: Arc::clone(&acks) };
                let stop = stop_signal.clone();
                let config = config.clone();
                connections.spawn(async move {
                    match config.tls.clone() {
                        None => connection(stream, peer, context, config, stop).await,
                        Some(tls) => {
                            // A client that does not finish its handshake is dropped like an idle one.
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                            if let Ok(Ok(secured)) = tokio::time::timeout(config.idle_timeout, acceptor.accept(stream)).await {
                                connection(secured, peer, context, config, stop).await;
                            }
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Every connection finishes the message it is in, answers it, and closes; one that never completes
    // its frame is cut after the idle timeout (nothing of it was stored).
    let _ = stopping.send(true);
    let _ = tokio::time::timeout(config.idle_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// What every connection shares.
struct Context {
    outbox: Outbox,
    metrics: Arc<Metrics>,
    /// The next ACK control id.
    acks: Arc<AtomicU64>,
}

/// One connection: reads frames, answers each, until the peer hangs up, idles or misbehaves.
async fn connection<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    context: Context,
    config: MllpConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Between messages, a shutdown closes the connection; inside one, reading goes on to its end.
        let between_messages = !framer.in_message();
        let read = tokio::select! {
            read = tokio::time::timeout(config.idle_timeout, stream.read(&mut chunk)) => match read {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return, // closed (a partial frame is discarded), failed or idle
                Ok(Ok(n)) => n,
            },
            _ = stop.wait_for(|stopping| *stopping), if between_messages => return,
        };
        framer.push(chunk.get(..read).unwrap_or_default());
        loop {
            match framer.next(config.max_message_bytes) {
                Frame::Incomplete => break,
                Frame::TooLarge => {
                    context.metrics.received(Transport::Mllp, 1);
                    context.metrics.rejected(Transport::Mllp, "too_large");
                    let text = format!("the message exceeds {} bytes", config.max_message_bytes);
                    let ack = acknowledgement(None, AckCode::Reject, Some(("207", &text)), &context.acks);
                    let _ = stream.write_all(&ack).await;
                    return;
                }
                Frame::Message(message) => {
                    let ack = handle(&message, peer, &context).await;
                    if stream.write_all(&ack).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

enum Frame {
    Message(Vec<u8>),
    Incomplete,
    TooLarge,
}

/// The bytes of one connection, cut into frames. It remembers how far it has searched for the end of
/// the frame in progress, so a message that trickles in is scanned once, not once per read.
#[derive(Default)]
struct Framer {
    buffer: Vec<u8>,
    /// Body bytes of the frame in progress already known to hold no end block.
    searched: usize,
}

impl Framer {
    fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// True while part of a frame has been received. After [`Framer::next`] the buffer is either
    /// empty or starts with a start block.
    fn in_message(&self) -> bool {
        self.buffer.first() == Some(&START_BLOCK)
    }

    /// Takes the next complete frame out of the buffer. Bytes before a start block (stray line ends
    /// between frames, noise) are dropped.
    fn next(&mut self, max: usize) -> Frame {
        match self.buffer.iter().position(|&b| b == START_BLOCK) {
            None => {
                self.buffer.clear();
                self.searched = 0;
                return Frame::Incomplete;
            }
            Some(0) => {}
            Some(start) => {
                self.buffer.drain(..start);
                self.searched = 0;
            }
        }
        let body = self.buffer.get(1..).unwrap_or_default();
        // The end block is two bytes and may straddle what was searched and what is new.
        let from = self.searched.saturating_sub(1);
        let end = body
            .get(from..)
            .and_then(|rest| rest.windows(2).position(|w| w == END_BLOCK))
            .map(|i| i + from);
        match end {
            Some(end) => {
                let message = body.get(..end).unwrap_or_default().to_vec();
                self.buffer.drain(..end + 3);
                self.searched = 0;
                if message.len() > max {
                    Frame::TooLarge
                } else {
                    Frame::Message(message)
                }
            }
            None => {
                self.searched = body.len();
                if body.len() > max.saturating_add(1) {
                    Frame::TooLarge
                } else {
                    Frame::Incomplete
                }
            }
        }
    }
}

/// What the check of a message decided, before anything is stored.
enum Verdict {
    /// Not HL7 v2 that parses.
    Malformed(String),
    /// Parsed, but not a message the bridge takes.
    Unsupported(Box<Message>, String),
    /// A device observation report that cannot be mapped.
    Invalid(Box<Message>, String),
    Acceptable(Box<Message>),
}

/// Parses and checks a message. CPU-bound (a message can hold thousands of rows), so it runs off the
/// async workers.
fn check(bytes: &[u8]) -> Verdict {
    let message = match Message::parse(bytes) {
        Ok(message) => Box::new(message),
        Err(error) => return Verdict::Malformed(error.to_string()),
    };
    if let Err(error) = pcd::accept_message_type(message.message_type(), message.trigger_event()) {
        return Verdict::Unsupported(message, error.to_string());
    }
    // The message must be mappable later; a missing patient is not an error here (the reading waits
    // for a device-patient association), a malformed observation is.
    let now = Utc::now().fixed_offset();
    let settings = PcdSettings {
        default_offset: *now.offset(),
        received_at: now,
    };
    let checked = read_report(&message).map_err(|e| e.to_string()).and_then(|report| {
        pcd::readings(&report, &settings)
            .map(|_| ())
            .map_err(|e: PcdError| e.to_string())
    });
    match checked {
        Ok(()) => Verdict::Acceptable(message),
        Err(rule) => Verdict::Invalid(message, rule),
    }
}

/// Decides about one message and stores it when accepted; returns the framed ACK.
async fn handle(bytes: &[u8], peer: SocketAddr, context: &Context) -> Vec<u8> {
    let (acks, metrics) = (&*context.acks, &context.metrics);
    metrics.received(Transport::Mllp, 1);
    let owned = bytes.to_vec();
    let verdict = match tokio::task::spawn_blocking(move || check(&owned)).await {
        Ok(verdict) => verdict,
        Err(_) => Verdict::Malformed("the message could not be checked".into()),
    };
    let message = match verdict {
        Verdict::Malformed(rule) => {
            metrics.rejected(Transport::Mllp, "bad_payload");
            return acknowledgement(None, AckCode::Error, Some(("102", &rule)), acks);
        }
        Verdict::Unsupported(message, rule) => {
            metrics.rejected(Transport::Mllp, "unsupported");
            return acknowledgement(Some(&message), AckCode::Reject, Some(("200", &rule)), acks);
        }
        Verdict::Invalid(message, rule) => {
            metrics.rejected(Transport::Mllp, "bad_payload");
            return acknowledgement(Some(&message), AckCode::Error, Some(("207", &rule)), acks);
        }
        Verdict::Acceptable(message) => message,
    };
    let record = OutboxRecord {
        adapter: "hl7v2".into(),
        received_at: Utc::now().fixed_offset(),
        source: format!("mllp {peer}"),
        payload: bytes.to_vec(),
        patient: None,
    };
    match context.outbox.append(&record).await {
        Ok(_) => {
            metrics.accepted(Transport::Mllp, 1);
            acknowledgement(Some(&message), AckCode::Accept, None, acks)
        }
        // Never AA for what is not stored. AR, not AE: the content is fine, the bridge cannot take it
        // now, and interface engines resend on AR. The store's own error stays in our log.
        Err(error) => {
            metrics.rejected(Transport::Mllp, "store");
            tracing::error!(%error, "could not store an HL7 message; answered AR");
            acknowledgement(
                Some(&message),
                AckCode::Reject,
                Some(("207", "the bridge could not store the message now; send it again")),
                acks,
            )
        }
    }
}

/// Escapes text for an HL7 field with the default delimiters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// An original-mode ACK in an MLLP frame, addressed back to the sender, with an ERR segment
/// (HL7 table 0357 code and text) when there is a problem.
fn acknowledgement(
    message: Option<&Message>,
    code: AckCode,
    problem: Option<(&str, &str)>,
    acks: &AtomicU64,
) -> Vec<u8> {
    let msh = message.and_then(|m| m.first("MSH"));
    // MSH-3/4 (HD) re-encoded with the ACK's own delimiters: the sender may use others.
    let field = |n: usize| {
        msh.and_then(|s| s.field(n).repetitions().first())
            .map(|r| {
                (1..=3)
                    .map(|c| escape(r.component(c).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("^")
            })
            .map(|joined| joined.trim_end_matches('^').to_string())
            .unwrap_or_default()
    };
    let trigger = message.and_then(|m| m.trigger_event()).unwrap_or_default();
    let version = message.and_then(|m| m.version()).unwrap_or("2.6");
    let control_id = message.and_then(|m| m.control_id()).unwrap_or_default();
    let mut text = format!(
        "MSH|^~\\&|FHIRGATE|FHIRGATE|{}|{}|{}||ACK^{}^ACK|FG{}|P|{}\rMSA|{}|{}\r",
        field(3),
        field(4),
        Utc::now().format("%Y%m%d%H%M%S+0000"),
        escape(trigger),
        acks.fetch_add(1, Ordering::Relaxed),
        escape(version),
        code.as_str(),
        escape(control_id),
    );
    if let Some((hl7_code, description)) = problem {
        let table_text = match hl7_code {
            "102" => "Data type error",
            "200" => "Unsupported message type",
            _ => "Application internal error",
        };
        text.push_str(&format!(
            "ERR|||{hl7_code}^{table_text}^HL70357|E||||{}\r",
            escape(description)
        ));
    }
    let mut frame = Vec::with_capacity(text.len() + 3);
    frame.push(START_BLOCK);
    frame.extend_from_slice(text.as_bytes());
    frame.extend_from_slice(&END_BLOCK);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_at_end_blocks_and_noise_is_dropped() {
        let mut framer = Framer::default();
        framer.push(b"\r\n\x0bMSH|1\x1c\x0d\x0bMSH|2\x1c");
        assert!(matches!(framer.next(100), Frame::Message(m) if m == b"MSH|1"));
        assert!(matches!(framer.next(100), Frame::Incomplete));
        // The end block straddles two reads.
        framer.push(&[0x0d]);
        assert!(matches!(framer.next(100), Frame::Message(m) if m == b"MSH|2"));
        assert!(framer.buffer.is_empty());
        let mut long = Framer::default();
        long.push(&[START_BLOCK]);
        long.push(&[b'x'; 20]);
        assert!(matches!(long.next(10), Frame::TooLarge));
    }

    #[test]
    fn a_frame_arriving_byte_by_byte_is_cut_once_and_searched_incrementally() {
        let mut framer = Framer::default();
        let frame = b"\x0bMSH|^~\\&|GW\rPID|||1\x1c\x0d";
        let mut messages = Vec::new();
        for (i, byte) in frame.iter().enumerate() {
            framer.push(&[*byte]);
            match framer.next(100) {
                Frame::Message(m) => messages.push(m),
                Frame::Incomplete => assert_eq!(framer.searched, i, "resumes where it stopped"),
                Frame::TooLarge => panic!("not too large"),
            }
        }
        assert_eq!(messages, vec![b"MSH|^~\\&|GW\rPID|||1".to_vec()]);
        assert!(!framer.in_message());
    }

    #[test]
    fn ack_text_is_escaped_into_one_err_field() {
        let acks = AtomicU64::new(7);
        let frame = acknowledgement(None, AckCode::Error, Some(("102", "bad | ^ & ~ \\ \r text")), &acks);
        let text = String::from_utf8(frame[1..frame.len() - 2].to_vec()).unwrap();
        assert!(text.contains("MSA|AE|\r"), "{text}");
        assert!(
            text.contains("ERR|||102^Data type error^HL70357|E||||bad \\F\\ \\S\\ \\T\\ \\R\\ \\E\\   text\r"),
            "{text}"
        );
        assert!(text.contains("|FG7|"));
    }
}
