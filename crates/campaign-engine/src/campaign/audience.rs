//! Who of the qualified users is sent to: the campaign's control group (held out at random, the same users
//! every time) and its targeting cap.

use crate::FieldError;
use crate::stable_hash::stable_hash;

/// A campaign control group of `percent` % of qualified users (CleverTap: 2 to 99 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControlGroup {
    pub percent: u8,
}

impl ControlGroup {
    pub fn new(percent: u64, path: &str) -> Result<ControlGroup, FieldError> {
        match u8::try_from(percent) {
            Ok(p @ 2..=99) => Ok(ControlGroup { percent: p }),
            _ => Err(FieldError::new(path, format!("must be a percentage from 2 to 99, not {percent}"))),
        }
    }

    /// Whether the user is held out. Random across users but fixed per (campaign, user), so a user stays in
    /// or out for every run of the campaign and new users fall in at the same rate.
    pub fn holds_out(self, campaign_id: u64, object_id: &str) -> bool {
        let hash = stable_hash(&[b"control", &campaign_id.to_le_bytes(), object_id.as_bytes()]);
        hash % 10_000 < u64::from(self.percent) * 100
    }
}

/// The most users one run reaches (CleverTap: 100 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetingCap {
    pub max: u64,
}

impl TargetingCap {
    pub const MIN: u64 = 100;

    pub fn new(max: u64, path: &str) -> Result<TargetingCap, FieldError> {
        if max < Self::MIN {
            return Err(FieldError::new(path, format!("must be 100 or more (CleverTap's minimum), not {max}")));
        }
        Ok(TargetingCap { max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_percent_control_group_holds_out_about_a_tenth_and_always_the_same_users() {
        let group = ControlGroup::new(10, "control_group").unwrap();
        let held: Vec<bool> = (0..10_000).map(|i| group.holds_out(42, &format!("user-{i}"))).collect();
        let count = held.iter().filter(|&&h| h).count();
        assert!((900..=1100).contains(&count), "{count} of 10000 held out");
        let again: Vec<bool> = (0..10_000).map(|i| group.holds_out(42, &format!("user-{i}"))).collect();
        assert_eq!(held, again);
    }

    #[test]
    fn control_groups_and_caps_outside_clevertaps_ranges_are_refused() {
        assert_eq!(
            ControlGroup::new(1, "control_group").unwrap_err().to_string(),
            "control_group: must be a percentage from 2 to 99, not 1"
        );
        assert!(ControlGroup::new(100, "control_group").is_err());
        assert_eq!(
            TargetingCap::new(99, "targeting_cap").unwrap_err().to_string(),
            "targeting_cap: must be 100 or more (CleverTap's minimum), not 99"
        );
    }
}
