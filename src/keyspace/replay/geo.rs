//! Geo writes (geo.c): GEOADD, and the searches that store (GEORADIUS /
//! GEORADIUSBYMEMBER … STORE|STOREDIST, GEOSEARCHSTORE). Positions are
//! sorted-set scores; their encoding and the search itself are in
//! `keyspace::geo`.

use super::args::{float, int, is};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::value::{OwnedValue, Zset};
use crate::keyspace::geo;
use crate::keyspace::Entry;

/// Which of the storing searches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum GeoStore {
    /// GEORADIUS key lon lat radius unit … STORE dst
    Radius,
    /// GEORADIUSBYMEMBER key member radius unit … STORE dst
    RadiusByMember,
    /// GEOSEARCHSTORE dst src …
    Search,
}

impl Replayer {
    /// GEOADD key [NX|XX] [CH] lon lat member…: ZADD of the positions' scores
    /// (the server logs it as that ZADD; older or hand-written AOFs may not).
    pub(super) fn geoadd(&mut self, a: &Args<'_>) -> Res {
        let mut i = 2;
        let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), a[1].to_vec()];
        while i < a.len() && (is(a[i], "NX") || is(a[i], "XX") || is(a[i], "CH")) {
            zadd.push(a[i].to_vec());
            i += 1;
        }
        let triples = &a[i..];
        if triples.is_empty() || !triples.len().is_multiple_of(3) {
            return Err("ERR syntax error. Try GEOADD key [x1] [y1] [name1] [x2] [y2] [name2] ... ".into());
        }
        for t in triples.chunks(3) {
            let (lon, lat) = lon_lat(t[0], t[1])?;
            let score = geo::score(lon, lat).ok_or("ERR invalid longitude,latitude pair")?;
            zadd.push((score as u64).to_string().into_bytes());
            zadd.push(t[2].to_vec());
        }
        let args: Vec<&[u8]> = zadd.iter().map(Vec::as_slice).collect();
        self.zadd(&args)
    }

    /// GEORADIUS / GEORADIUSBYMEMBER … STORE|STOREDIST dst, and GEOSEARCHSTORE
    /// dst src …: the searches an AOF holds (the others only read), run as
    /// georadiusGeneric runs them.
    pub(super) fn geo_store(&mut self, a: &Args<'_>, cmd: GeoStore) -> Res {
        // Where the source key is, and where the options start (the
        // command table's arity of each).
        let (src, base) = match cmd {
            GeoStore::Radius => (1, 6),
            GeoStore::RadiusByMember => (1, 5),
            GeoStore::Search => (2, 3),
        };
        let search = cmd == GeoStore::Search;
        let zset: Option<Vec<(Vec<u8>, f64)>> = match self.db().get(a[src]) {
            Some(Entry { obj: OwnedValue::Zset(z), .. }) => {
                Some(z.sorted().into_iter().map(|(m, s)| (m.to_vec(), s)).collect())
            }
            Some(_) => return Err(WRONGTYPE.into()),
            None => None,
        };
        let member_position = |m: &[u8]| -> Result<(f64, f64), String> {
            let z = zset.as_ref().expect("looked up only when the key exists");
            z.iter()
                .find(|(name, _)| name == m)
                .and_then(|(_, s)| geo::position(*s))
                .ok_or_else(|| "ERR could not decode requested zset member".to_string())
        };
        let mut center = None;
        let mut area = None;
        let mut conversion = 1.0;
        match cmd {
            GeoStore::Radius => center = Some(lon_lat(a[2], a[3])?),
            GeoStore::RadiusByMember if zset.is_some() => center = Some(member_position(a[2])?),
            _ => {}
        }
        if !search && (center.is_some() || cmd == GeoStore::Radius) {
            let (r, unit) = geo_distance(a[base - 2], a[base - 1])?;
            area = Some(geo::Area::Radius(r));
            conversion = unit;
        }
        let (mut store, mut storedist) = (search.then(|| a[1]), false);
        let (mut any, mut count, mut desc, mut asc, mut with) = (false, 0i64, false, false, false);
        // As georadiusGeneric: each of FROMMEMBER/FROMLONLAT refuses the other
        // (not itself: a repeat wins), likewise BYRADIUS/BYBOX.
        let (mut frommember, mut fromlonlat, mut byradius, mut bybox) = (false, false, false, false);
        let mut i = base;
        let more = |i: usize, n: usize| i + n < a.len();
        while i < a.len() {
            let arg = a[i];
            if is(arg, "WITHDIST") || is(arg, "WITHHASH") || is(arg, "WITHCOORD") {
                with = true;
            } else if is(arg, "ANY") {
                any = true;
            } else if is(arg, "ASC") {
                (asc, desc) = (true, false);
            } else if is(arg, "DESC") {
                (asc, desc) = (false, true);
            } else if is(arg, "COUNT") && more(i, 1) {
                count = int(a[i + 1])?;
                if count <= 0 {
                    return Err("ERR COUNT must be > 0".into());
                }
                i += 1;
            } else if (is(arg, "STORE") || is(arg, "STOREDIST")) && more(i, 1) && !search {
                (store, storedist) = (Some(a[i + 1]), is(arg, "STOREDIST"));
                i += 1;
            } else if is(arg, "STOREDIST") && search {
                storedist = true;
            } else if is(arg, "FROMMEMBER") && more(i, 1) && search && !fromlonlat {
                if zset.is_some() {
                    center = Some(member_position(a[i + 1])?);
                }
                frommember = true;
                i += 1;
            } else if is(arg, "FROMLONLAT") && more(i, 2) && search && !frommember {
                center = Some(lon_lat(a[i + 1], a[i + 2])?);
                fromlonlat = true;
                i += 2;
            } else if is(arg, "BYRADIUS") && more(i, 2) && search && !bybox {
                let (r, unit) = geo_distance(a[i + 1], a[i + 2])?;
                (area, conversion, byradius) = (Some(geo::Area::Radius(r)), unit, true);
                i += 2;
            } else if is(arg, "BYBOX") && more(i, 3) && search && !byradius {
                let (width, height) = (float(a[i + 1])?, float(a[i + 2])?);
                if width < 0.0 || height < 0.0 {
                    return Err("ERR height or width cannot be negative".into());
                }
                (area, conversion, bybox) = (Some(geo::Area::Box { width, height }), geo_unit(a[i + 3])?, true);
                i += 3;
            } else {
                return Err("ERR syntax error".into());
            }
            i += 1;
        }
        let Some(dst) = store else { return Ok(()) };
        if with {
            return Err("ERR STORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options".into());
        }
        if search && !((frommember || fromlonlat) && (byradius || bybox)) {
            return Err("ERR exactly one of FROMMEMBER or FROMLONLAT and BYRADIUS or BYBOX must be given".into());
        }
        if any && count == 0 {
            return Err("ERR the ANY argument requires COUNT argument".into());
        }
        let (Some(z), Some((lon, lat)), Some(area)) = (&zset, center, area) else {
            self.db().remove(dst);
            return Ok(());
        };
        let sorted: Vec<(&[u8], f64)> = z.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        let shape = geo::Shape { lon, lat, conversion, area };
        let limit = if any { count as usize } else { 0 };
        let mut found = geo::search(&sorted, &shape, limit);
        // COUNT without an order means the nearest (not with ANY).
        let asc = asc || (count > 0 && !desc && !any);
        if asc || desc {
            // Redis's qsort is not stable: equal distances may come out in
            // another order there (only matters with COUNT cutting a tie).
            found.sort_by(|x, y| x.meters.partial_cmp(&y.meters).unwrap_or(std::cmp::Ordering::Equal));
            if desc {
                found.reverse();
            }
        }
        if count > 0 {
            found.truncate(count as usize);
        }
        let scores: Vec<(Vec<u8>, f64)> = found
            .into_iter()
            .map(|f| (f.member.to_vec(), if storedist { f.meters / conversion } else { f.score }))
            .collect();
        self.store(dst, OwnedValue::Zset(Zset::ranked(scores)));
        Ok(())
    }
}

/// A position argument pair, in the indexable range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), String> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !geo::valid_position(lon, lat) {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"));
    }
    Ok((lon, lat))
}

/// A unit's size in metres.
fn geo_unit(unit: &[u8]) -> Result<f64, String> {
    match unit.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err("ERR unsupported unit provided. please use M, KM, FT, MI".into()),
    }
}

/// `<radius> <unit>`: the radius and the unit's size in metres.
fn geo_distance(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), String> {
    let r = float(radius).map_err(|_| "ERR need numeric radius".to_string())?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, geo_unit(unit)?))
}
