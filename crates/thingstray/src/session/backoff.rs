//! Retry delays: exponential, capped, with jitter so that many clients failing together
//! (a SmartThings outage) do not come back together.

use std::time::Duration;

use rand::Rng;

pub fn delay(attempt: u32, min: Duration, max: Duration) -> Duration {
    let exp = min.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max);
    // "Equal jitter": somewhere between half and all of the capped delay.
    let half = capped / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_stays_jittered() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(300));
        for attempt in 1..40 {
            let d = delay(attempt, min, max);
            let ceiling = min.saturating_mul(1 << (attempt - 1).min(20)).min(max);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
        let d = delay(30, min, max);
        assert!(d >= Duration::from_secs(150) && d <= max);
    }
}
