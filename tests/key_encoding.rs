//! Properties of the order-preserving key encoding: round trips, byte order equals `Ord`,
//! strict decoding of arbitrary input, and no heap use for fixed-size keys.

use std::fmt::Debug;

use proptest::prelude::*;
use zerotable::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyDecodeReason};

/// Standalone encoding, copied out of the arena.
fn enc<T: IntoKeyBytes + ?Sized>(value: &T) -> Vec<u8> {
    let mut arena = KeyArena::new();
    value.key_bytes(&mut arena).to_vec()
}

/// Tuple-element (self-delimiting) encoding.
fn enc_part<T: IntoKeyBytes + ?Sized>(value: &T) -> Vec<u8> {
    let mut arena = KeyArena::new();
    value.write_key_part(&mut arena);
    arena.as_slice().to_vec()
}

/// Round trip and order, for both the standalone and the part encoding.
fn check_pair<T>(a: &T, b: &T) -> Result<(), TestCaseError>
where
    T: IntoKeyBytes + FromKeyBytes + Ord + Debug,
{
    let decoded = T::from_key_bytes(&enc(a));
    prop_assert_eq!(decoded.as_ref(), Ok(a));
    prop_assert_eq!(a.cmp(b), enc(a).cmp(&enc(b)));
    prop_assert_eq!(a.cmp(b), enc_part(a).cmp(&enc_part(b)));

    // A part must stop exactly at its own end, whatever follows it.
    let tail: &[u8] = b"\x00\xff\x00tail";
    let mut buf = enc_part(a);
    buf.extend_from_slice(tail);
    let mut input = &buf[..];
    let decoded = T::read_key_part(&mut input);
    prop_assert_eq!(decoded.as_ref(), Ok(a));
    prop_assert_eq!(input, tail);
    Ok(())
}

/// Decoders never panic, and whatever they accept is exactly the encoding of what they return.
fn decode_arbitrary<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: IntoKeyBytes + FromKeyBytes + Debug,
{
    if let Ok(value) = T::from_key_bytes(bytes) {
        prop_assert_eq!(enc(&value), bytes, "{:?}", value);
    }
    let mut input = bytes;
    if let Ok(value) = T::read_key_part(&mut input) {
        let consumed = bytes.len() - input.len();
        prop_assert_eq!(enc_part(&value), &bytes[..consumed], "{:?}", value);
    }
    Ok(())
}

/// Bytes biased towards the ones the escape scheme treats specially.
fn special_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0x00u8),
        Just(0x01),
        Just(0xff),
        Just(b'a'),
        any::<u8>()
    ]
}

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(special_byte(), 0..40),
    ]
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(special_byte(), 0..6)
}

/// Small alphabet (so prefixes and ties are common) with NUL and multi-byte characters, plus
/// fully arbitrary strings.
fn small_string() -> impl Strategy<Value = String> {
    let alphabet = vec!['\0', 'a', 'b', '\u{7f}', 'é', '\u{10ffff}'];
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(alphabet), 0..6)
            .prop_map(String::from_iter),
        1 => any::<String>(),
    ]
}

macro_rules! family_props {
    ($($name:ident: $t:ty = $strategy:expr;)*) => {$(
        mod $name {
            use super::*;

            proptest! {
                /// Keys of this type decode to themselves and their encodings (whole and as a
                /// tuple part) sort as the values do.
                #[test]
                fn round_trip_and_order(a in $strategy, b in $strategy) {
                    check_pair::<$t>(&a, &b)?;
                    check_pair::<$t>(&a, &a)?;
                }

                /// Decoding arbitrary bytes as this type never panics and accepts only exact
                /// encodings.
                #[test]
                fn arbitrary_bytes_never_panic(bytes in arbitrary_bytes()) {
                    decode_arbitrary::<$t>(&bytes)?;
                }
            }
        }
    )*};
}

family_props! {
    u8_keys: u8 = any::<u8>();
    u16_keys: u16 = any::<u16>();
    u32_keys: u32 = any::<u32>();
    u64_keys: u64 = any::<u64>();
    u128_keys: u128 = any::<u128>();
    i8_keys: i8 = any::<i8>();
    i16_keys: i16 = any::<i16>();
    i32_keys: i32 = any::<i32>();
    i64_keys: i64 = any::<i64>();
    i128_keys: i128 = any::<i128>();
    bool_keys: bool = any::<bool>();
    array1_keys: [u8; 1] = any::<[u8; 1]>();
    array4_keys: [u8; 4] = any::<[u8; 4]>();
    array16_keys: [u8; 16] = any::<[u8; 16]>();
    string_keys: String = small_string();
    bytes_keys: Vec<u8> = small_bytes();
    string_u64: (String, u64) = (small_string(), any::<u64>());
    bytes_string: (Vec<u8>, String) = (small_bytes(), small_string());
    i32_bool: (i32, bool) = (any::<i32>(), any::<bool>());
    string_bytes_i16: (String, Vec<u8>, i16) = (small_string(), small_bytes(), any::<i16>());
    bool_array_string: (bool, [u8; 3], String) =
        (any::<bool>(), any::<[u8; 3]>(), small_string());
    i64_string_bool: (i64, String, bool) = (any::<i64>(), small_string(), any::<bool>());
    u128_triple: (u128, u128, u128) = (any::<u128>(), any::<u128>(), any::<u128>());
}

proptest! {
    /// A tuple's encoding starts with its first element's part encoding, and a triple's with the
    /// pair's: what makes prefix scans work.
    #[test]
    fn tuple_starts_with_first_element_part(a in small_string(), b in any::<u32>(), c in small_bytes()) {
        let pair = enc(&(a.clone(), b));
        prop_assert!(pair.starts_with(&enc_part(&a)));
        let triple = enc(&(a.clone(), b, c.clone()));
        prop_assert!(triple.starts_with(&pair));
    }

    /// Borrowed keys (`&str`, `&[u8]`, references) encode exactly like their owned forms.
    #[test]
    fn references_encode_like_owned(a in small_string(), b in small_bytes(), n in any::<i64>()) {
        prop_assert_eq!(enc(&(a.as_str(), &b[..], n)), enc(&(a.clone(), b.clone(), n)));
        prop_assert_eq!(enc(&&a[..]), enc(&a));
        prop_assert_eq!(enc_part(&&b[..]), enc_part(&b));
    }

    /// No strict prefix of a tuple's encoding decodes as that tuple.
    #[test]
    fn every_strict_prefix_of_a_tuple_is_rejected(a in small_string(), b in small_bytes(), n in any::<u16>()) {
        let bytes = enc(&(a, b, n));
        for len in 0..bytes.len() {
            prop_assert!(<(String, Vec<u8>, u16)>::from_key_bytes(&bytes[..len]).is_err());
        }
    }

    /// A `KeyArena` behaves like a `Vec<u8>` under any sequence of pushes, extends and clears,
    /// spilling to the heap exactly past its inline capacity.
    #[test]
    fn arena_matches_vec(ops in prop::collection::vec(
        prop_oneof![
            any::<u8>().prop_map(Op::Push),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Op::Extend),
            Just(Op::Clear),
        ],
        0..20,
    )) {
        let mut arena = KeyArena::default();
        let mut model = Vec::new();
        for op in ops {
            match op {
                Op::Push(b) => { arena.push(b); model.push(b); }
                Op::Extend(bytes) => { arena.extend_from_slice(&bytes); model.extend_from_slice(&bytes); }
                Op::Clear => { arena.clear(); model.clear(); }
            }
            prop_assert_eq!(arena.as_slice(), &model[..]);
            prop_assert_eq!(arena.len(), model.len());
            prop_assert_eq!(arena.is_empty(), model.is_empty());
            prop_assert_eq!(arena.spilled(), model.len() > KeyArena::INLINE_CAPACITY);
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Push(u8),
    Extend(Vec<u8>),
    Clear,
}

/// Variable-length tuple parts are delimited: `("ab", "c")` and `("a", "bc")` differ and sort as
/// tuples do.
#[test]
fn variable_parts_do_not_run_together() {
    let ab_c = enc(&("ab", "c"));
    let a_bc = enc(&("a", "bc"));
    assert_ne!(ab_c, a_bc);
    assert_eq!(("ab", "c").cmp(&("a", "bc")), ab_c.cmp(&a_bc));
    assert!(a_bc < ab_c);

    assert!(("a", "") < ("a\0", ""));
    assert!(enc(&("a", "")) < enc(&("a\0", "")));
    assert!(enc(&(&b"a"[..], 5u8)) < enc(&(&b"a\0"[..], 0u8)));
}

/// NUL bytes inside string and byte parts are escaped in tuples, left as they are standalone, and
/// round-trip.
#[test]
fn embedded_nul_bytes() {
    let s = String::from("a\0b\0\0");
    assert_eq!(enc_part(&s), b"a\x00\xffb\x00\xff\x00\xff\x00\x00");
    assert_eq!(enc(&s), s.as_bytes());
    assert_eq!(String::from_key_bytes(&enc(&s)), Ok(s.clone()));
    let pair = (s.clone(), vec![0u8, 0, 1]);
    assert_eq!(<(String, Vec<u8>)>::from_key_bytes(&enc(&pair)), Ok(pair));
}

/// Fixed-width keys encode to their documented big-endian (sign-flipped) bytes.
#[test]
fn golden_fixed_width_bytes() {
    assert_eq!(enc(&0x0102u16), [1, 2]);
    assert_eq!(enc(&-1i8), [0x7f]);
    assert_eq!(enc(&0i8), [0x80]);
    assert_eq!(enc(&i32::MIN), [0, 0, 0, 0]);
    assert_eq!(enc(&i32::MAX), [0xff; 4]);
    assert_eq!(enc(&true), [1]);
    assert_eq!(enc(&(7u8, false, [9u8, 8])), [7, 0, 9, 8]);
    assert_eq!(enc(&[0u8; 0]), [0u8; 0]);
    assert_eq!(<[u8; 0]>::from_key_bytes(&[]), Ok([]));
}

macro_rules! boundaries_sort {
    ($($t:ty: [$($extra:expr),*]),*) => {$({
        let mut values: Vec<$t> =
            vec![<$t>::MIN, <$t>::MIN + 1, <$t>::MAX / 2, <$t>::MAX - 1, <$t>::MAX $(, $extra)*];
        values.sort();
        values.dedup();
        let encoded: Vec<Vec<u8>> = values.iter().map(enc).collect();
        assert!(encoded.windows(2).all(|w| w[0] < w[1]), "{}: {:?}", stringify!($t), values);
    })*};
}

/// Every integer type's boundary values encode in ascending byte order.
#[test]
fn integer_boundaries_sort() {
    boundaries_sort!(u8: [1], u16: [1], u32: [1], u64: [1], u128: [1]);
    boundaries_sort!(i8: [-1, 0, 1], i16: [-1, 0, 1], i32: [-1, 0, 1], i64: [-1, 0, 1]);
    boundaries_sort!(i128: [-1, 0, 1]);
}

fn reason<T: Debug>(result: Result<T, KeyDecodeError>) -> KeyDecodeReason {
    result.expect_err("decoding should fail").reason
}

/// Fixed-width keys of the wrong length, and trailing bytes after a tuple, are decode errors naming
/// the lengths.
#[test]
fn wrong_lengths_are_errors() {
    let wrong = |expected, found| KeyDecodeReason::WrongLength { expected, found };
    assert_eq!(reason(u64::from_key_bytes(&[0; 7])), wrong(8, 7));
    assert_eq!(reason(u64::from_key_bytes(&[0; 9])), wrong(8, 9));
    assert_eq!(reason(i16::from_key_bytes(&[])), wrong(2, 0));
    assert_eq!(reason(<[u8; 4]>::from_key_bytes(&[1; 5])), wrong(4, 5));
    assert_eq!(reason(bool::from_key_bytes(&[0, 0])), wrong(1, 2));
    assert_eq!(
        reason(u32::read_key_part(&mut &[1u8, 2, 3][..])),
        wrong(4, 3)
    );
    assert_eq!(reason(<(u32, u32)>::from_key_bytes(&[0; 7])), wrong(4, 3));
    assert_eq!(
        reason(<(u32, u32)>::from_key_bytes(&[0; 9])),
        KeyDecodeReason::TrailingBytes(1)
    );
    assert_eq!(
        reason(<(String, bool)>::from_key_bytes(b"x\0\0\x01\x01")),
        KeyDecodeReason::TrailingBytes(1)
    );
}

/// A `bool` byte other than 0 or 1 is a decode error naming the byte.
#[test]
fn bool_byte_other_than_0_or_1_is_an_error() {
    assert_eq!(
        reason(bool::from_key_bytes(&[2])),
        KeyDecodeReason::InvalidBool(2)
    );
    assert_eq!(
        reason(<(bool, u8)>::from_key_bytes(&[0xff, 0])),
        KeyDecodeReason::InvalidBool(0xff)
    );
}

/// Invalid UTF-8 in a `String` key is a decode error (the same bytes are a valid byte string).
#[test]
fn invalid_utf8_is_an_error() {
    assert_eq!(
        reason(String::from_key_bytes(&[0xff])),
        KeyDecodeReason::InvalidUtf8
    );
    assert_eq!(
        reason(String::from_key_bytes(&[b'a', 0xc3])),
        KeyDecodeReason::InvalidUtf8
    );
    assert_eq!(
        reason(String::read_key_part(&mut &[0xc3u8, 0, 0][..])),
        KeyDecodeReason::InvalidUtf8
    );
    // The same bytes are fine as a byte string.
    assert_eq!(Vec::<u8>::from_key_bytes(&[0xff]), Ok(vec![0xff]));
}

/// Variable-length parts without their terminator or with a bad escape are decode errors.
#[test]
fn malformed_variable_parts_are_errors() {
    let read = |bytes: &[u8]| reason(Vec::<u8>::read_key_part(&mut &bytes[..]));
    assert_eq!(read(b""), KeyDecodeReason::MissingTerminator);
    assert_eq!(read(b"abc"), KeyDecodeReason::MissingTerminator);
    assert_eq!(read(b"abc\0"), KeyDecodeReason::MissingTerminator);
    assert_eq!(read(b"a\0\xff"), KeyDecodeReason::MissingTerminator);
    assert_eq!(read(b"a\0\x05\0\0"), KeyDecodeReason::InvalidEscape(5));
}

/// Key decode errors are `Send + Sync + Clone`, name the expected type and say what was wrong.
#[test]
fn errors_are_descriptive_and_thread_safe() {
    fn assert_error<E: std::error::Error + Clone + PartialEq + Send + Sync + 'static>() {}
    assert_error::<KeyDecodeError>();

    let err = u64::from_key_bytes(&[1, 2]).unwrap_err();
    assert_eq!(err.expected, "u64");
    assert_eq!(
        err.to_string(),
        "cannot decode u64 key: expected 8 bytes, found 2"
    );
    let err = bool::from_key_bytes(&[2]).unwrap_err();
    assert!(err.to_string().contains("0x02"), "{err}");
}

/// String and byte keys are encoded as themselves, borrowed, without touching the arena.
#[test]
fn unsized_keys_are_zero_copy() {
    let mut arena = KeyArena::new();
    arena.extend_from_slice(b"untouched");

    let s = "hello\0world";
    assert!(std::ptr::eq(s.key_bytes(&mut arena).as_ptr(), s.as_ptr()));
    let string = String::from(s);
    assert!(std::ptr::eq(
        string.key_bytes(&mut arena).as_ptr(),
        string.as_ptr()
    ));
    let bytes = vec![0u8, 1, 2];
    assert!(std::ptr::eq(
        bytes.key_bytes(&mut arena).as_ptr(),
        bytes.as_ptr()
    ));
    assert!(std::ptr::eq(
        bytes[..].key_bytes(&mut arena).as_ptr(),
        bytes.as_ptr()
    ));
    let by_ref = &s;
    assert!(std::ptr::eq(
        by_ref.key_bytes(&mut arena).as_ptr(),
        s.as_ptr()
    ));

    assert_eq!(arena.as_slice(), b"untouched");
}

/// The arena is the only buffer encoding writes to (integers go through stack arrays), so an
/// arena that never acquired heap capacity means encoding allocated nothing.
#[test]
fn fixed_size_keys_do_not_spill() {
    fn assert_inline<T: IntoKeyBytes>(key: T, len: usize) {
        let mut arena = KeyArena::new();
        assert_eq!(key.key_bytes(&mut arena).len(), len);
        assert!(!arena.spilled());
        assert_eq!(arena.heap_capacity(), 0);
    }
    assert_inline(u64::MAX, 8);
    assert_inline((u64::MAX, -1i32), 12);
    assert_inline((u128::MAX, u128::MIN, 7u128), 48);
    assert_inline((i128::MIN, true, [0xffu8; 15]), 32);
}

/// The arena spills to the heap past its inline capacity and keeps that capacity across `clear`.
#[test]
fn arena_spills_past_inline_capacity_and_keeps_capacity_on_clear() {
    let mut arena = KeyArena::new();
    for i in 0..KeyArena::INLINE_CAPACITY {
        arena.push(i as u8);
    }
    assert!(!arena.spilled());
    assert_eq!(arena.heap_capacity(), 0);
    arena.push(0xaa);
    assert!(arena.spilled());
    assert_eq!(arena.len(), KeyArena::INLINE_CAPACITY + 1);
    assert_eq!(arena.as_slice()[KeyArena::INLINE_CAPACITY], 0xaa);

    let capacity = arena.heap_capacity();
    assert!(capacity > KeyArena::INLINE_CAPACITY);
    arena.clear();
    assert!(arena.is_empty());
    assert!(!arena.spilled());
    assert_eq!(arena.heap_capacity(), capacity);

    // A long string key spills and still round-trips through the reused arena.
    let long = ("x".repeat(100), 1u8);
    let bytes = long.key_bytes(&mut arena).to_vec();
    assert_eq!(<(String, u8)>::from_key_bytes(&bytes), Ok(long));
}
