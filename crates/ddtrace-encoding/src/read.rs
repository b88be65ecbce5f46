//! A strict, bounded msgpack reader over a byte slice.
//!
//! Every read checks the remaining length first; collection lengths are checked against the
//! bytes left (each element takes at least one byte), so a hostile header cannot make the
//! decoder reserve memory the payload does not back. Skipping is iterative (no recursion).

use crate::{Error, Result};

/// An integer as read: unsigned or negative.
#[derive(Debug, Clone, Copy)]
enum Int {
    U(u64),
    I(i64),
}

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// `Ok` when the whole input was read, else the count of bytes left over.
    pub(crate) fn end(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(Error::TrailingBytes { count }),
        }
    }

    fn peek(&self) -> Result<u8> {
        self.buf.get(self.pos).copied().ok_or(Error::Truncated {
            offset: self.pos,
            needed: 1,
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(Error::Truncated {
                offset: self.pos,
                needed: n - self.remaining().min(n),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn be16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn be32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn be64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn unexpected(&self, offset: usize, expected: &'static str) -> Error {
        Error::UnexpectedType {
            offset,
            marker: self.buf.get(offset).copied().unwrap_or(0),
            expected,
        }
    }

    /// Checks that `n` elements of at least `min_size` bytes each can fit.
    fn bounded(&self, offset: usize, n: usize, min_size: usize) -> Result<usize> {
        let needed = n.saturating_mul(min_size);
        if needed > self.remaining() {
            return Err(Error::Truncated {
                offset,
                needed: needed - self.remaining(),
            });
        }
        Ok(n)
    }

    /// An array header (nil reads as an empty array).
    pub(crate) fn array_len(&mut self) -> Result<usize> {
        let offset = self.pos;
        let n = match self.u8()? {
            m @ 0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => usize::from(self.be16()?),
            0xdd => self.be32()? as usize,
            0xc0 => 0,
            _ => return Err(self.unexpected(offset, "an array")),
        };
        self.bounded(offset, n, 1)
    }

    /// A map header (nil reads as an empty map).
    pub(crate) fn map_len(&mut self) -> Result<usize> {
        let offset = self.pos;
        let n = match self.u8()? {
            m @ 0x80..=0x8f => usize::from(m & 0x0f),
            0xde => usize::from(self.be16()?),
            0xdf => self.be32()? as usize,
            0xc0 => 0,
            _ => return Err(self.unexpected(offset, "a map")),
        };
        self.bounded(offset, n, 2)
    }

    /// A string (nil reads as empty).
    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let offset = self.pos;
        let bytes = self.raw_str()?;
        std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { offset })
    }

    /// The bytes of a string, not yet checked to be UTF-8 (nil reads as empty).
    #[inline(always)]
    pub(crate) fn raw_str(&mut self) -> Result<&'a [u8]> {
        let offset = self.pos;
        if let Some(&m @ 0xa0..=0xbf) = self.buf.get(offset) {
            let end = offset + 1 + usize::from(m & 0x1f);
            if let Some(bytes) = self.buf.get(offset + 1..end) {
                self.pos = end;
                return Ok(bytes);
            }
        }
        self.raw_str_slow()
    }

    /// [`raw_str`](Self::raw_str) past its `fixstr` fast path.
    #[inline(never)]
    fn raw_str_slow(&mut self) -> Result<&'a [u8]> {
        let offset = self.pos;
        let n = match self.u8()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::from(self.u8()?),
            0xda => usize::from(self.be16()?),
            0xdb => self.be32()? as usize,
            0xc0 => 0,
            _ => return Err(self.unexpected(offset, "a string")),
        };
        self.take(n)
    }

    /// A binary blob.
    pub(crate) fn bin(&mut self) -> Result<&'a [u8]> {
        let offset = self.pos;
        let n = match self.u8()? {
            0xc4 => usize::from(self.u8()?),
            0xc5 => usize::from(self.be16()?),
            0xc6 => self.be32()? as usize,
            _ => return Err(self.unexpected(offset, "a binary")),
        };
        self.take(n)
    }

    fn int(&mut self) -> Result<Int> {
        let offset = self.pos;
        Ok(match self.u8()? {
            m @ 0x00..=0x7f => Int::U(u64::from(m)),
            m @ 0xe0..=0xff => Int::I(i64::from(m as i8)),
            0xcc => Int::U(u64::from(self.u8()?)),
            0xcd => Int::U(u64::from(self.be16()?)),
            0xce => Int::U(u64::from(self.be32()?)),
            0xcf => Int::U(self.be64()?),
            0xd0 => Int::I(i64::from(self.u8()? as i8)),
            0xd1 => Int::I(i64::from(self.be16()? as i16)),
            0xd2 => Int::I(i64::from(self.be32()? as i32)),
            0xd3 => Int::I(self.be64()? as i64),
            _ => return Err(self.unexpected(offset, "an integer")),
        })
    }

    /// An id-like unsigned 64-bit field. Negative values (signed encoders) are read as their
    /// two's complement, as the agent does.
    #[inline(always)]
    pub(crate) fn u64(&mut self) -> Result<u64> {
        // The forms of small values (flags, v0.5 string indexes) first.
        let (value, width) = match self.buf.get(self.pos..) {
            Some(&[m @ 0x00..=0x7f, ..]) => (u64::from(m), 1),
            Some(&[0xcc, b, ..]) => (u64::from(b), 2),
            Some(&[0xcd, h, l, ..]) => (u64::from(u16::from_be_bytes([h, l])), 3),
            _ => return self.u64_slow(),
        };
        self.pos += width;
        Ok(value)
    }

    #[inline(never)]
    fn u64_slow(&mut self) -> Result<u64> {
        Ok(match self.int()? {
            Int::U(v) => v,
            Int::I(v) => v as u64,
        })
    }

    /// An unsigned field of a narrower type.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32> {
        let offset = self.pos;
        match self.int()? {
            Int::U(v) => u32::try_from(v).ok(),
            Int::I(_) => None,
        }
        .ok_or(Error::IntegerOutOfRange { offset, field })
    }

    /// A signed 64-bit field.
    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64> {
        let offset = self.pos;
        match self.int()? {
            Int::U(v) => i64::try_from(v).map_err(|_| Error::IntegerOutOfRange { offset, field }),
            Int::I(v) => Ok(v),
        }
    }

    /// A float field: float64, float32 or any integer.
    pub(crate) fn f64(&mut self) -> Result<f64> {
        match self.peek()? {
            0xcb => {
                self.pos += 1;
                Ok(f64::from_bits(self.be64()?))
            }
            0xca => {
                self.pos += 1;
                Ok(f64::from(f32::from_bits(self.be32()?)))
            }
            _ => Ok(match self.int()? {
                Int::U(v) => v as f64,
                Int::I(v) => v as f64,
            }),
        }
    }

    /// A boolean field: bool, or an integer (non-zero is true), or nil (false).
    pub(crate) fn flag(&mut self) -> Result<bool> {
        match self.peek()? {
            0xc2 | 0xc0 => {
                self.pos += 1;
                Ok(false)
            }
            0xc3 => {
                self.pos += 1;
                Ok(true)
            }
            _ => Ok(match self.int()? {
                Int::U(v) => v != 0,
                Int::I(v) => v != 0,
            }),
        }
    }

    /// A strict boolean.
    pub(crate) fn bool(&mut self) -> Result<bool> {
        let offset = self.pos;
        match self.u8()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(self.unexpected(offset, "a boolean")),
        }
    }

    /// Skips one value of any type, however nested, without recursion.
    pub(crate) fn skip(&mut self) -> Result<()> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let offset = self.pos;
            let marker = self.u8()?;
            let (extra, len): (usize, usize) = match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => {
                    pending = pending.saturating_add(2 * usize::from(marker & 0x0f));
                    (0, 0)
                }
                0x90..=0x9f => {
                    pending = pending.saturating_add(usize::from(marker & 0x0f));
                    (0, 0)
                }
                0xa0..=0xbf => (0, usize::from(marker & 0x1f)),
                0xc4 | 0xd9 => (0, usize::from(self.u8()?)),
                0xc5 | 0xda => (0, usize::from(self.be16()?)),
                0xc6 | 0xdb => (0, self.be32()? as usize),
                0xc7 => (1, usize::from(self.u8()?)),
                0xc8 => (1, usize::from(self.be16()?)),
                0xc9 => (1, self.be32()? as usize),
                0xca => (4, 0),
                0xcb => (8, 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xce | 0xd2 => (4, 0),
                0xcf | 0xd3 => (8, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xdc => {
                    pending = pending.saturating_add(usize::from(self.be16()?));
                    (0, 0)
                }
                0xdd => {
                    pending = pending.saturating_add(self.be32()? as usize);
                    (0, 0)
                }
                0xde => {
                    pending = pending.saturating_add(2 * usize::from(self.be16()?));
                    (0, 0)
                }
                0xdf => {
                    pending = pending.saturating_add((self.be32()? as usize).saturating_mul(2));
                    (0, 0)
                }
                0xc1 => return Err(self.unexpected(offset, "a msgpack value")),
            };
            self.take(extra.saturating_add(len))?;
            if pending > self.remaining() {
                return Err(Error::Truncated {
                    offset,
                    needed: pending - self.remaining(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_integer_width_and_rejects_out_of_range() {
        let mut r = Reader::new(&[
            0x05, 0xcd, 0x03, 0xe8, 0xff, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(r.u64().ok(), Some(5));
        assert_eq!(r.i64("x").ok(), Some(1000));
        assert_eq!(r.i64("x").ok(), Some(-1));
        assert_eq!(r.i64("x").ok(), Some(i64::MIN));
        let mut r = Reader::new(&[0xcc, 200, 0xcd, 0x03, 0xe8, 0xff, 0xce, 0, 1, 0, 0]);
        assert_eq!(r.u64().ok(), Some(200));
        assert_eq!(r.u64().ok(), Some(1000));
        assert_eq!(r.u64().ok(), Some(u64::MAX));
        assert_eq!(r.u64().ok(), Some(65_536));
        for cut in [&[0xcc][..], &[0xcd, 3], &[0xce, 0, 1]] {
            assert!(matches!(
                Reader::new(cut).u64(),
                Err(Error::Truncated { .. })
            ));
        }
        let mut r = Reader::new(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.i64("start"),
            Err(Error::IntegerOutOfRange { field: "start", .. })
        ));
    }

    #[test]
    fn huge_collection_headers_are_refused_before_allocating() {
        let mut r = Reader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(matches!(r.array_len(), Err(Error::Truncated { .. })));
        let mut r = Reader::new(&[0xdf, 0x00, 0x00, 0x00, 0x01, 0x01]);
        assert!(matches!(r.map_len(), Err(Error::Truncated { .. })));
    }

    #[test]
    fn skip_walks_nested_values_and_stops_at_the_end() {
        // {"a": [1, {"b": nil}], "c": 1.5f32} then 0x07.
        let bytes = [
            0x82, 0xa1, b'a', 0x92, 0x01, 0x81, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xca, 0x3f, 0xc0, 0,
            0, 0x07,
        ];
        let mut r = Reader::new(&bytes);
        assert!(r.skip().is_ok());
        assert_eq!(r.remaining(), 1);
        let mut r = Reader::new(&bytes[..10]);
        assert!(r.skip().is_err());
        assert!(Reader::new(&[0xc1]).skip().is_err());
    }
}
