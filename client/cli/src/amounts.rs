//! AKE amounts: people write whole tokens ("12.5"), programs use base units.

use anyhow::{anyhow, bail};

pub fn parse(text: &str, decimals: u8) -> anyhow::Result<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > usize::from(decimals) {
        bail!("'{text}' is not an AKE amount with at most {decimals} decimals (e.g. 12.5)");
    }
    let digits = format!("{whole}{frac:0<width$}", width = usize::from(decimals));
    let value: u64 = digits
        .parse()
        .map_err(|_| anyhow!("'{text}' is not an AKE amount (e.g. 12.5)"))?;
    if value == 0 {
        bail!("the amount must be greater than zero");
    }
    Ok(value)
}

pub fn format(base: u64, decimals: u8) -> String {
    let unit = 10u64.pow(u32::from(decimals));
    let frac = format!("{:0width$}", base % unit, width = usize::from(decimals));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{}", base / unit)
    } else {
        format!("{}.{frac}", base / unit)
    }
}

pub use ake_sdk::oracle::usd;

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        assert_eq!(super::parse("12.5", 6).unwrap(), 12_500_000);
        assert_eq!(super::parse("3", 6).unwrap(), 3_000_000);
        assert!(super::parse("1.0000001", 6).is_err());
        assert!(super::parse("abc", 6).is_err());
        assert!(super::parse("0", 6).is_err());
        assert_eq!(super::format(12_500_000, 6), "12.5");
        assert_eq!(super::format(240_481, 6), "0.240481");
        assert_eq!(super::usd(120_000), "$0.120000");
    }
}
