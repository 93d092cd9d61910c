//! The bridge's log lines: text (the default) or JSON, on standard error. In text, every field and
//! the message go through [`escape_control`], so a line break or an ANSI escape that a device put in
//! a field cannot forge a log line or recolour a terminal; JSON escapes them by itself.

use tracing::field::Field;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;
use crate::privacy::escape_control;

/// Installs the bridge's logger as the global default: `RUST_LOG`, else `log.level`.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = layer(&config.format, std::io::stderr, ansi);
    let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
}

/// The formatting layer for `format` (`json`, else text) writing to `writer`.
pub fn layer<S, W>(format: &str, writer: W, ansi: bool) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    if format == "json" {
        Box::new(layer.json())
    } else {
        Box::new(layer.fmt_fields(escaped_fields()))
    }
}

/// Fields as `name=value`, the message bare, each value with its control characters escaped.
fn escaped_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    debug_fn(|writer: &mut Writer<'_>, field: &Field, value: &dyn std::fmt::Debug| {
        let text = format!("{value:?}");
        let text = escape_control(&text);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{}={text}", field.name())
        }
    })
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything logged, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: &str, log: impl FnOnce()) -> String {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::registry().with(layer(format, move || sink.clone(), false));
        tracing::subscriber::with_default(subscriber, log);
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    const FORGED: &str = "hub-1\n2026-12-03T00:00:00Z  INFO fhirgate: delivered\u{1b}[2K\r";

    #[test]
    fn a_field_cannot_forge_a_line_or_drive_the_terminal_in_text() {
        let text = logged("text", || {
            tracing::warn!(source = %FORGED, other = FORGED, "refused\nfrom {}", FORGED);
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.contains(r"source=hub-1\n2026-12-03T00:00:00Z  INFO fhirgate: delivered\u{1b}[2K\r"),
            "{text}"
        );
        assert!(text.contains(r"refused\nfrom hub-1\n"), "the message too: {text}");
        assert!(text.contains("WARN"), "{text}");
    }

    #[test]
    fn json_lines_escape_them_too() {
        let text = logged("json", || {
            tracing::warn!(source = %FORGED, "refused");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["fields"]["source"], FORGED);
    }
}
