//! Wall-clock text for output lines.

/// The local time of day as `HH:MM:SS`.
pub fn time_of_day() -> [u8; 8] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (h, m, s) = local_hms(now as libc::time_t);
    let digits = |n: i32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let [h1, h2] = digits(h);
    let [m1, m2] = digits(m);
    let [s1, s2] = digits(s);
    [h1, h2, b':', m1, m2, b':', s1, s2]
}

fn local_hms(t: libc::time_t) -> (i32, i32, i32) {
    // SAFETY: `tm` is plain old data, so all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // thread-safe variant and writes only into `tm`.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        (tm.tm_hour, tm.tm_min, tm.tm_sec)
    } else {
        let day = t.rem_euclid(86_400) as i32;
        (day / 3600, day / 60 % 60, day % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_of_day_has_the_hh_mm_ss_shape() {
        let text = super::time_of_day();
        let text = std::str::from_utf8(&text).unwrap();
        let parts: Vec<u32> = text.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[0] < 24 && parts[1] < 60 && parts[2] < 61, "{text}");
    }
}
