//! Geo searches as Redis runs them over a sorted set, for replaying the
//! storing searches (GEORADIUS … STORE, GEOSEARCHSTORE): which members a
//! search finds depends on the geohash boxes Redis walks, not only on the
//! distance, and the stored distances must be the same doubles. The box
//! arithmetic follows the server's geohash code step for step (same operations
//! in the same order, the same libm), so the results are bit-identical.

use std::f64::consts::PI;

const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
/// 26 steps × 2 = the 52 bits of a member's score.
const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// Where a search is centred and what it covers (distances in metres after
/// `conversion`, the unit's size in metres).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub conversion: f64,
    pub area: Area,
}

#[derive(Debug, Clone, Copy)]
pub enum Area {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A geohash of `step` bits per coordinate; all zero means "no box".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hash {
    bits: u64,
    step: u8,
}

const ZERO: Hash = Hash { bits: 0, step: 0 };

struct Cell {
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
}

fn interleave(lat: u32, lon: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut x = v as u64;
        x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
        x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
        x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        (x | (x << 1)) & 0x5555_5555_5555_5555
    }
    spread(lat) | (spread(lon) << 1)
}

/// (lat part, lon part) of interleaved bits.
fn deinterleave(bits: u64) -> (u32, u32) {
    fn squash(v: u64) -> u32 {
        let mut x = v & 0x5555_5555_5555_5555;
        x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
        x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
        x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
        ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
    }
    (squash(bits), squash(bits >> 1))
}

/// geohashEncode: `None` outside the indexable range.
fn encode(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    let lat_offset = (lat - LAT_MIN) / (LAT_MAX - LAT_MIN) * (1u64 << step) as f64;
    let lon_offset = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * (1u64 << step) as f64;
    // C converts the doubles to uint32_t (truncation).
    Some(Hash { bits: interleave(lat_offset as u32, lon_offset as u32), step })
}

fn decode(h: Hash) -> Option<Cell> {
    if h == ZERO {
        return None;
    }
    let (ilat, ilon) = deinterleave(h.bits);
    let div = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (LAT_MAX - LAT_MIN, LONG_MAX - LONG_MIN);
    Some(Cell {
        lat_min: LAT_MIN + (ilat as f64 * 1.0 / div) * lat_scale,
        lat_max: LAT_MIN + ((ilat as u64 + 1) as f64 * 1.0 / div) * lat_scale,
        lon_min: LONG_MIN + (ilon as f64 * 1.0 / div) * lon_scale,
        lon_max: LONG_MIN + ((ilon as u64 + 1) as f64 * 1.0 / div) * lon_scale,
    })
}

/// A member's position from its score (the centre of its 52-bit cell).
pub fn position(score: f64) -> Option<(f64, f64)> {
    let cell = decode(Hash { bits: score as u64, step: STEP_MAX })?;
    let lon = ((cell.lon_min + cell.lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((cell.lat_min + cell.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// The score GEOADD gives a position; `None` outside the indexable range.
pub fn score(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|h| align52(h) as f64)
}

pub fn valid_position(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

fn align52(h: Hash) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

/// Interleaved bits of each coordinate: longitude on the odd ones (x),
/// latitude on the even ones (y).
const X_LANE: u64 = 0xaaaa_aaaa_aaaa_aaaa;
const Y_LANE: u64 = 0x5555_5555_5555_5555;

/// One cell along `lane` (geohash_move_x / _y): add or subtract one in that
/// coordinate's bits, carrying through the other lane's positions.
fn move_along(h: &mut Hash, lane: u64, d: i8) {
    let other = !lane;
    let (mine, theirs) = (h.bits & lane, h.bits & other);
    let shift = 64 - h.step as u32 * 2;
    let zz = other >> shift;
    let mine = if d > 0 { mine.wrapping_add(zz + 1) } else { (mine | zz).wrapping_sub(zz + 1) };
    h.bits = (mine & (lane >> shift)) | theirs;
}

fn moved(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    if dx != 0 {
        move_along(&mut n, X_LANE, dx);
    }
    if dy != 0 {
        move_along(&mut n, Y_LANE, dy);
    }
    n
}

fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let (mut range, mut step) = (range_meters, 1i32);
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// geohashGetDistance: haversine on Redis's sphere, in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

impl Shape {
    /// (half width, half height) in metres for the bounding box.
    fn half_extent(&self) -> (f64, f64) {
        match self.area {
            Area::Radius(r) => (self.conversion * r, self.conversion * r),
            Area::Box { width, height } => (self.conversion * (width / 2.0), self.conversion * (height / 2.0)),
        }
    }

    /// geohashBoundingBox: [min lon, min lat, max lon, max lat].
    fn bounds(&self) -> [f64; 4] {
        let (width, height) = self.half_extent();
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let long_delta = if self.lat < 0.0 { long_delta_bottom } else { long_delta_top };
        [self.lon - long_delta, self.lat - lat_delta, self.lon + long_delta, self.lat + lat_delta]
    }

    /// The centre box and its eight neighbours, in the order Redis searches
    /// them (unneeded ones zeroed), as geohashCalculateAreasByShapeWGS84.
    fn boxes(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_meters = self.conversion
            * match self.area {
                Area::Radius(r) => r,
                Area::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
            };
        let mut steps = estimate_steps(radius_meters, self.lat);
        let around = |steps: u8| {
            let hash = encode(self.lon, self.lat, steps).unwrap_or(ZERO);
            // [self, N, S, E, W, NE, NW, SE, SW] as membersOfAllNeighbors lists them.
            [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
                .map(|(dx, dy)| moved(hash, dx, dy))
        };
        let mut n = around(steps);
        let too_coarse = decode(n[1]).is_some_and(|c| c.lat_max < max_lat)
            || decode(n[2]).is_some_and(|c| c.lat_min > min_lat)
            || decode(n[3]).is_some_and(|c| c.lon_max < max_lon)
            || decode(n[4]).is_some_and(|c| c.lon_min > min_lon);
        if steps > 1 && too_coarse {
            steps -= 1;
            n = around(steps);
        }
        if steps >= 2 {
            if let Some(area) = decode(n[0]) {
                // Neighbours beyond the edge the centre box already passes
                // are not searched.
                let (north, south, east, west) = (1, 2, 3, 4);
                let (ne, nw, se, sw) = (5, 6, 7, 8);
                let beyond = [
                    (area.lat_min < min_lat, [south, sw, se]),
                    (area.lat_max > max_lat, [north, ne, nw]),
                    (area.lon_min < min_lon, [west, sw, nw]),
                    (area.lon_max > max_lon, [east, se, ne]),
                ];
                for (_, sides) in beyond.iter().filter(|(past, _)| *past) {
                    for &i in sides {
                        n[i] = ZERO;
                    }
                }
            }
        }
        n
    }

    /// The distance from the centre when the point is inside the shape.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.area {
            Area::Radius(r) => Some(distance(self.lon, self.lat, lon, lat)).filter(|d| *d <= r * self.conversion),
            Area::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 || distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// A member a search found: its name, score and distance (in metres).
#[derive(Debug, Clone, PartialEq)]
pub struct Found<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub meters: f64,
}

/// The members of a sorted set (`sorted` in Redis's order) that the search
/// finds, in the order Redis finds them; `limit` is ANY's count (0 = all).
pub fn search<'a>(sorted: &[(&'a [u8], f64)], shape: &Shape, limit: usize) -> Vec<Found<'a>> {
    let boxes = shape.boxes();
    let mut found: Vec<Found<'a>> = Vec::new();
    // Index of the last box searched; Redis compares with it only once it is
    // past the centre box (index 0).
    let mut last = 0;
    for (i, &b) in boxes.iter().enumerate() {
        if b == ZERO {
            continue;
        }
        // Huge radii make neighbours coincide: Redis skips a box equal to the
        // last one searched.
        if last != 0 && boxes[last] == b {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let min = align52(b) as f64;
        let max = align52(Hash { bits: b.bits + 1, step: b.step }) as f64;
        let start = sorted.partition_point(|(_, s)| *s < min);
        for &(member, score) in &sorted[start..] {
            if score >= max {
                break;
            }
            if let Some((lon, lat)) = position(score) {
                if let Some(meters) = shape.contains(lon, lat) {
                    found.push(Found { member, score, meters });
                }
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
        last = i;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (lat, lon) in [(0u32, 0u32), (1, 0), (0, 1), (0x3ff_ffff, 0x155_5555), (u32::MAX, 7)] {
            assert_eq!(deinterleave(interleave(lat, lon)), (lat, lon));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    /// Scores and positions recorded from redis-server 7.0.15: `GEOADD g
    /// 13.361389 38.115556 Palermo 15.087269 37.502669 Catania`, `ZSCORE`,
    /// `GEOPOS`, `GEODIST g Palermo Catania`.
    #[test]
    fn matches_the_server() {
        assert_eq!(score(13.361389, 38.115556), Some(3479099956230698.0));
        assert_eq!(score(15.087269, 37.502669), Some(3479447370796909.0));
        let (lon, lat) = position(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17} {lat:.17}"), "13.36138933897018433 38.11555639549629859");
        let (lon2, lat2) = position(3479447370796909.0).unwrap();
        assert_eq!(format!("{:.4}", distance(lon, lat, lon2, lat2)), "166274.1516");
    }

    #[test]
    fn search_finds_within_radius_only() {
        let members: Vec<(&[u8], f64)> =
            vec![(b"Palermo".as_slice(), 3479099956230698.0), (b"Catania".as_slice(), 3479447370796909.0)];
        let shape = Shape { lon: 15.0, lat: 37.0, conversion: 1000.0, area: Area::Radius(100.0) };
        let found = search(&members, &shape, 0);
        assert_eq!(found.iter().map(|f| f.member).collect::<Vec<_>>(), vec![b"Catania".as_slice()]);
        let shape = Shape { area: Area::Radius(200.0), ..shape };
        assert_eq!(search(&members, &shape, 0).len(), 2);
        assert_eq!(search(&members, &shape, 1).len(), 1);
    }
}
