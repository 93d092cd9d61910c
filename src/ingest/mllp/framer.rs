//! MLLP framing: the bytes of one connection cut into `0x0B message 0x1C 0x0D` frames.

pub const START_BLOCK: u8 = 0x0B;
pub const END_BLOCK: [u8; 2] = [0x1C, 0x0D];

pub enum Frame {
    Message(Vec<u8>),
    Incomplete,
    TooLarge,
}

/// The bytes of one connection, cut into frames. It remembers how far it has searched for the end of
/// the frame in progress, so a message that trickles in is scanned once, not once per read.
#[derive(Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// Body bytes of the frame in progress already known to hold no end block.
    searched: usize,
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// True while part of a frame has been received. After [`Framer::next`] the buffer is either
    /// empty or starts with a start block.
    pub fn in_message(&self) -> bool {
        self.buffer.first() == Some(&START_BLOCK)
    }

    /// Takes the next complete frame out of the buffer. Bytes before a start block (stray line ends
    /// between frames, noise) are dropped.
    pub fn next(&mut self, max: usize) -> Frame {
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
}
