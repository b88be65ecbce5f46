//! The msgpack writer: free functions appending to a `Vec<u8>`.
//!
//! Integers always take their smallest encoding (unsigned when non-negative), as the agent
//! accepts any integer width. Lengths above `u32::MAX` cannot be expressed in msgpack; they
//! saturate (a payload is capped at a few MiB long before that).

/// Saturates a length to the 32 bits msgpack allows.
#[inline]
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Bytes taken by the header of an array (or map) of `n` elements.
#[inline]
pub(crate) fn collection_header_len(n: usize) -> usize {
    if n < 16 {
        1
    } else if n <= 0xffff {
        3
    } else {
        5
    }
}

#[inline(always)]
fn collection_header(buf: &mut Vec<u8>, n: usize, fix: u8, m16: u8, m32: u8) {
    let n = len32(n);
    if n < 16 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(m16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(m32);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an array header.
#[inline]
pub(crate) fn array_len(buf: &mut Vec<u8>, n: usize) {
    collection_header(buf, n, 0x90, 0xdc, 0xdd);
}

/// Writes an array header right-aligned into `slot` (5 bytes) and returns where it starts.
#[inline]
pub(crate) fn array_len_into(slot: &mut [u8; 5], n: usize) -> usize {
    let n = len32(n);
    if n < 16 {
        slot[4] = 0x90 | n as u8;
        4
    } else if n <= 0xffff {
        slot[2] = 0xdc;
        slot[3..5].copy_from_slice(&(n as u16).to_be_bytes());
        2
    } else {
        slot[0] = 0xdd;
        slot[1..5].copy_from_slice(&n.to_be_bytes());
        0
    }
}

/// Writes a map header.
#[inline]
pub(crate) fn map_len(buf: &mut Vec<u8>, n: usize) {
    collection_header(buf, n, 0x80, 0xde, 0xdf);
}

/// Bytes taken by the header of a string of `len` bytes.
#[inline]
pub(crate) fn str_header_len(len: usize) -> usize {
    if len < 32 {
        1
    } else if len <= 0xff {
        2
    } else if len <= 0xffff {
        3
    } else {
        5
    }
}

/// Writes a string.
#[inline(always)]
pub(crate) fn str(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if bytes.len() < 32 {
        // The common case, kept small enough to inline everywhere.
        buf.push(0xa0 | bytes.len() as u8);
        buf.extend_from_slice(bytes);
    } else {
        long_str(buf, bytes);
    }
}

#[inline(never)]
fn long_str(buf: &mut Vec<u8>, bytes: &[u8]) {
    let n = len32(bytes.len());
    if n <= 0xff {
        buf.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&n.to_be_bytes());
    }
    buf.extend_from_slice(bytes.get(..n as usize).unwrap_or(bytes));
}

/// Writes a binary blob.
#[inline]
pub(crate) fn bin(buf: &mut Vec<u8>, bytes: &[u8]) {
    let n = len32(bytes.len());
    if n <= 0xff {
        buf.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= 0xffff {
        buf.push(0xc5);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(0xc6);
        buf.extend_from_slice(&n.to_be_bytes());
    }
    buf.extend_from_slice(bytes.get(..n as usize).unwrap_or(bytes));
}

/// Writes an unsigned integer in its smallest form.
#[inline(always)]
pub(crate) fn uint(buf: &mut Vec<u8>, v: u64) {
    if v < 128 {
        buf.push(v as u8);
    } else if v <= 0xff {
        buf.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= 0xffff {
        let b = (v as u16).to_be_bytes();
        buf.extend_from_slice(&[0xcd, b[0], b[1]]);
    } else if v <= 0xffff_ffff {
        let b = (v as u32).to_be_bytes();
        buf.extend_from_slice(&[0xce, b[0], b[1], b[2], b[3]]);
    } else {
        let b = v.to_be_bytes();
        buf.extend_from_slice(&[0xcf, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }
}

/// Writes a signed integer in its smallest form (unsigned families when non-negative).
#[inline(always)]
pub(crate) fn int(buf: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        uint(buf, v as u64);
    } else if v >= -32 {
        buf.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        buf.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        let b = (v as i16).to_be_bytes();
        buf.extend_from_slice(&[0xd1, b[0], b[1]]);
    } else if v >= i64::from(i32::MIN) {
        let b = (v as i32).to_be_bytes();
        buf.extend_from_slice(&[0xd2, b[0], b[1], b[2], b[3]]);
    } else {
        let b = v.to_be_bytes();
        buf.extend_from_slice(&[0xd3, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }
}

/// Writes a float64.
#[inline(always)]
pub(crate) fn f64(buf: &mut Vec<u8>, v: f64) {
    let b = v.to_bits().to_be_bytes();
    buf.extend_from_slice(&[0xcb, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
}

/// Writes a boolean.
#[inline]
pub(crate) fn bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(if v { 0xc3 } else { 0xc2 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn integers_take_their_smallest_form() {
        assert_eq!(bytes(|b| uint(b, 1)), [0x01]);
        assert_eq!(bytes(|b| uint(b, 200)), [0xcc, 200]);
        assert_eq!(bytes(|b| uint(b, 1000)), [0xcd, 0x03, 0xe8]);
        assert_eq!(bytes(|b| uint(b, 70_000)), [0xce, 0, 1, 0x11, 0x70]);
        assert_eq!(
            bytes(|b| int(b, 1_700_000_000_000_000_000)),
            [0xcf, 0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00]
        );
        assert_eq!(bytes(|b| int(b, -1)), [0xff]);
        assert_eq!(bytes(|b| int(b, -32)), [0xe0]);
        assert_eq!(bytes(|b| int(b, -33)), [0xd0, 0xdf]);
        assert_eq!(bytes(|b| int(b, -300)), [0xd1, 0xfe, 0xd4]);
        assert_eq!(bytes(|b| int(b, -70_000)), [0xd2, 0xff, 0xfe, 0xee, 0x90]);
        assert_eq!(bytes(|b| int(b, i64::MIN))[0], 0xd3);
    }

    #[test]
    fn headers_switch_width_at_the_msgpack_boundaries() {
        assert_eq!(bytes(|b| str(b, &"x".repeat(31)))[0], 0xbf);
        assert_eq!(bytes(|b| str(b, &"x".repeat(32)))[..2], [0xd9, 32]);
        assert_eq!(bytes(|b| str(b, &"x".repeat(256)))[..3], [0xda, 1, 0]);
        assert_eq!(bytes(|b| array_len(b, 15)), [0x9f]);
        assert_eq!(bytes(|b| array_len(b, 16)), [0xdc, 0, 16]);
        assert_eq!(bytes(|b| map_len(b, 65_536)), [0xdf, 0, 1, 0, 0]);
        for n in [0, 15, 16, 65_535, 65_536] {
            let mut slot = [0; 5];
            let start = array_len_into(&mut slot, n);
            assert_eq!(slot[start..], bytes(|b| array_len(b, n))[..]);
            assert_eq!(collection_header_len(n), 5 - start);
        }
        for n in [0, 31, 32, 255, 256, 65_535, 65_536] {
            let s = "x".repeat(n);
            assert_eq!(str_header_len(n), bytes(|b| str(b, &s)).len() - n);
        }
    }
}
