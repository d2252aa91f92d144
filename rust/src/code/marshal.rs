//! Writing [`Json`] values in Python's `marshal` format, the request format of the sandboxed
//! child (`marshal.loads` builds the objects directly, with no parser or compiler involved).
//!
//! Values map as a Python literal would: `null`/`true`/`false` to `None`/`True`/`False`, a
//! number with a fraction or exponent (or `NaN`/`Infinity`) to a float, any other number to an
//! int of any size, strings to `str`, arrays to lists and objects to dicts.

use super::json::Json;

/// Appends `v` to `out` in marshal format.
pub fn write(v: &Json, out: &mut Vec<u8>) {
    match v {
        Json::Null => out.push(b'N'),
        Json::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        Json::Num(n) => write_number(n, out),
        Json::Str(s) => write_str(s, out),
        Json::Arr(items) => {
            out.push(b'[');
            write_len(items.len(), out);
            for item in items {
                write(item, out);
            }
        }
        Json::Obj(members) => {
            out.push(b'{');
            for (k, item) in members {
                write_str(k, out);
                write(item, out);
            }
            out.push(b'0');
        }
    }
}

fn write_len(n: usize, out: &mut Vec<u8>) {
    // marshal sizes are 32-bit; a request that large cannot be sent anyway.
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'u');
    write_len(s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

fn write_number(text: &str, out: &mut Vec<u8>) {
    let is_float = text
        .bytes()
        .any(|b| matches!(b, b'.' | b'e' | b'E' | b'N' | b'I'));
    if is_float {
        let value = match text {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            t => t.parse().unwrap_or(f64::NAN),
        };
        out.push(b'g');
        out.extend_from_slice(&value.to_le_bytes());
    } else if let Ok(small) = text.parse::<i32>() {
        out.push(b'i');
        out.extend_from_slice(&small.to_le_bytes());
    } else {
        write_big_int(text, out);
    }
}

/// An int of any size: `l`, the signed number of 15-bit digits, the digits (least significant
/// first).
fn write_big_int(text: &str, out: &mut Vec<u8>) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut limbs: Vec<u32> = Vec::new();
    for chunk in digits.as_bytes().chunks(4) {
        let mut carry = 0u32;
        let mut scale = 1u32;
        for &d in chunk {
            carry = carry * 10 + u32::from(d.wrapping_sub(b'0') % 10);
            scale *= 10;
        }
        for limb in limbs.iter_mut() {
            let x = *limb * scale + carry;
            *limb = x & 0x7fff;
            carry = x >> 15;
        }
        while carry > 0 {
            limbs.push(carry & 0x7fff);
            carry >>= 15;
        }
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    out.push(b'l');
    let n = limbs.len() as i32;
    out.extend_from_slice(&(if negative { -n } else { n }).to_le_bytes());
    for limb in limbs {
        out.extend_from_slice(&(limb as u16).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;

    fn bytes(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write(&parse(json).unwrap(), &mut out);
        out
    }

    #[test]
    fn writes_scalars_and_containers() {
        assert_eq!(bytes("null"), b"N");
        assert_eq!(bytes("[true,false]"), b"[\x02\0\0\0TF");
        assert_eq!(bytes("-7"), b"i\xf9\xff\xff\xff");
        assert_eq!(bytes("\"é\""), b"u\x02\0\0\0\xc3\xa9");
        assert_eq!(bytes("{\"a\":1}"), b"{u\x01\0\0\0ai\x01\0\0\x000");
        let mut half = vec![b'g'];
        half.extend_from_slice(&(-2.5e3f64).to_le_bytes());
        assert_eq!(bytes("-2.5e3"), half);
        assert_eq!(bytes("1.0")[0], b'g');
        assert!(f64::from_le_bytes(bytes("NaN")[1..].try_into().unwrap()).is_nan());
    }

    #[test]
    fn writes_big_ints_in_15_bit_digits() {
        // 2**31 = 2 * 2**30: digits 0, 0, 2.
        assert_eq!(bytes("2147483648"), b"l\x03\0\0\0\0\0\0\0\x02\0");
        assert_eq!(bytes("-2147483649"), b"l\xfd\xff\xff\xff\x01\0\0\0\x02\0");
    }
}
