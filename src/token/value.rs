//! Framing of values: find where the value of a key ends without decoding it
//! (`rdbLoadObject`'s layout, one arm per type). Decoding happens later, in
//! `event::decode`, only for the consumers that ask for it.

use super::length::{parse_len, parse_plain_len, parse_usize_len, Len};
use super::module::parse_module2;
use super::string::{parse_string_double, skip_str};
use super::{fail, TResult};
use crate::error::{ErrorKind, Integrity};
use crate::format::Type;
use nom::bytes::streaming::take;
use std::collections::HashMap;

/// What framing needs to know besides the bytes: hash templates (RDB 15) define
/// how many values a reference-form hash holds.
#[derive(Debug, Default, Clone)]
pub struct Templates {
    pub fields: HashMap<u64, Vec<Vec<u8>>>,
}

/// Repeat a framing step `n` times. Every step consumes at least one byte, so a
/// huge `n` from a damaged file ends in `Incomplete`, never in a long loop over
/// nothing or an allocation.
fn repeat<'a>(mut i: &'a [u8], n: u64, mut step: impl FnMut(&'a [u8]) -> TResult<'a, ()>) -> TResult<'a, ()> {
    for _ in 0..n {
        i = step(i)?.0;
    }
    Ok((i, ()))
}

fn skip_len(i: &[u8]) -> TResult<'_, ()> {
    parse_plain_len(i).map(|(r, _)| (r, ()))
}

fn skip_n(n: usize) -> impl Fn(&[u8]) -> TResult<'_, ()> {
    move |i| take(n)(i).map(|(r, _)| (r, ()))
}

fn skip_stream_id_pair(i: &[u8]) -> TResult<'_, ()> {
    let (i, _) = parse_plain_len(i)?;
    skip_len(i)
}

/// Frame the value of type `ty` at the start of `i`; returns the rest.
pub fn frame_value<'a>(i: &'a [u8], ty: Type, templates: &Templates) -> TResult<'a, ()> {
    use Type::*;
    match ty {
        String | HashZipmap | ListZiplist | SetIntset | ZsetZiplist | HashZiplist | HashListpack | ZsetListpack
        | SetListpack | HashListpackExPreGa | HashTmplLpRef => skip_str(i),
        List | Set => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, skip_str)
        }
        ListQuicklist => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, skip_str)
        }
        ListQuicklist2 => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_str(skip_len(i)?.0))
        }
        Zset => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| parse_string_double(skip_str(i)?.0).map(|(r, _)| (r, ())))
        }
        Zset2 => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_n(8)(skip_str(i)?.0))
        }
        Hash => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_str(skip_str(i)?.0))
        }
        HashMetadataPreGa => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_str(skip_str(skip_len(i)?.0)?.0))
        }
        HashMetadata => {
            let (i, ()) = skip_n(8)(i)?;
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_str(skip_str(skip_len(i)?.0)?.0))
        }
        HashListpackEx => skip_str(skip_n(8)(i)?.0),
        Hash2 => {
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_n(8)(skip_str(skip_str(i)?.0)?.0))
        }
        ModulePreGa => fail(i, ErrorKind::Unsupported("pre-release module value (RDB type 6)")),
        Module2 => parse_module2(i).map(|(r, _)| (r, ())),
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
            frame_stream(i, ty.stream_version().unwrap_or(1))
        }
        Array => frame_array(i),
        HashTmplLp | HashTmplArray => {
            let (i, fmt) = parse_plain_len(i)?;
            let (i, nfields) = match fmt {
                0 => {
                    // The field names as a listpack; the count is known only after decoding.
                    let (rest, s) = super::string::parse_str(i)?;
                    let n = match s.bytes() {
                        Ok(lp) => super::listpack::walk(&lp, |_| Ok(())).unwrap_or(0),
                        Err(_) => 0,
                    };
                    (rest, n as u64)
                }
                1 => {
                    let (i, n) = parse_plain_len(i)?;
                    (repeat(i, n, skip_str)?.0, n)
                }
                _ => return fail(i, ErrorKind::BadEncoding("unknown hash template field format")),
            };
            if ty == HashTmplLp {
                skip_str(i)
            } else {
                repeat(i, nfields, skip_str)
            }
        }
        HashTmplArrayRef => {
            let (rest, id) = parse_plain_len(i)?;
            let Some(fields) = templates.fields.get(&id) else {
                return fail(i, ErrorKind::Integrity(Integrity::TemplateUnknown));
            };
            repeat(rest, fields.len() as u64, skip_str)
        }
    }
}

/// Frame a stream of layout version `v` (docs/format/stream.md, "Value layout").
fn frame_stream(i: &[u8], v: u8) -> TResult<'_, ()> {
    let (i, nodes) = parse_plain_len(i)?;
    let (i, ()) = repeat(i, nodes, |i| skip_str(skip_str(i)?.0))?;
    let (mut i, ()) = skip_len(i)?; // length
    i = skip_stream_id_pair(i)?.0; // last id
    if v >= 2 {
        i = skip_stream_id_pair(i)?.0; // first id
        i = skip_stream_id_pair(i)?.0; // max deleted id
        i = skip_len(i)?.0; // entries added
    }
    let (i, ngroups) = parse_plain_len(i)?;
    let (mut i, ()) = repeat(i, ngroups, |i| {
        let (mut i, ()) = skip_str(i)?;
        i = skip_stream_id_pair(i)?.0;
        if v >= 2 {
            i = skip_len(i)?.0; // entries read
        }
        let (i, pel) = parse_plain_len(i)?;
        let (i, ()) = repeat(i, pel, |i| skip_len(skip_n(24)(i)?.0))?;
        let (i, consumers) = parse_plain_len(i)?;
        let (i, ()) = repeat(i, consumers, |i| {
            let (i, ()) = skip_str(i)?;
            let (i, ()) = skip_n(if v >= 3 { 16 } else { 8 })(i)?;
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, skip_n(16))
        })?;
        if v >= 5 {
            let (i, n) = parse_plain_len(i)?;
            return repeat(i, n, skip_n(16));
        }
        Ok((i, ()))
    })?;
    if v >= 4 {
        i = skip_len(skip_len(i)?.0)?.0; // idmp duration, max entries
        let (rest, producers) = parse_plain_len(i)?;
        i = repeat(rest, producers, |i| {
            let (i, ()) = skip_str(i)?;
            let (i, n) = parse_plain_len(i)?;
            repeat(i, n, |i| skip_stream_id_pair(skip_str(i)?.0))
        })?
        .0;
        i = skip_len(skip_len(i)?.0)?.0; // iids added, duplicates
    }
    Ok((i, ()))
}

/// Frame an ARRAY value (docs/format/newer.md, "ARRAY").
fn frame_array(i: &[u8]) -> TResult<'_, ()> {
    let (i, count) = parse_plain_len(i)?;
    let (mut i, flag) = parse_plain_len(i)?;
    if flag == 1 {
        i = skip_len(i)?.0;
    }
    repeat(i, count, |i| {
        let (i, index) = parse_len(i)?;
        if !matches!(index, Len::Plain(_)) {
            return fail(i, ErrorKind::BadEncoding("array index uses a string encoding"));
        }
        let (i, tag) = parse_usize_len(i)?;
        match tag {
            0 | 3 => skip_str(i),
            1 | 2 => skip_n(8)(i),
            _ => fail(i, ErrorKind::BadEncoding("unknown array element tag")),
        }
    })
}
