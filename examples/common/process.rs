//! What the side-by-side benchmark examples (`chat_bench`, `encoder_bench`) read about their own
//! process and the machine from `/proc`, to report beside their timings. Included with
//! `#[path = "common/process.rs"] mod process;`.

/// A `/proc/self/status` memory line (`VmRSS`: now, `VmHWM`: the peak), MiB to one decimal; NaN
/// where `/proc` is not there.
pub fn memory_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|line| {
        line.strip_prefix(key)?.trim_start_matches(':').split_whitespace().next()?.parse::<f64>().ok()
    });
    kib.map_or(f64::NAN, |kib| (kib / 1024.0 * 10.0).round() / 10.0)
}

/// The one-minute load average (`/proc/loadavg`); NaN where it cannot be read.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
