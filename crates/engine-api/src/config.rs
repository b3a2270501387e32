//! The API's settings, validated once before serving: the accounts it accepts and its limits.

use std::time::Duration;

/// The account ID accepted when none is configured, so a first run needs no flags.
pub const DEFAULT_ACCOUNT_ID: &str = "TAPINK-ACCOUNT";
/// The passcode of [`DEFAULT_ACCOUNT_ID`].
pub const DEFAULT_PASSCODE: &str = "tapink-passcode";

/// One CleverTap account's credentials: what a client sends as `X-CleverTap-Account-Id` and
/// `X-CleverTap-Passcode`. Every account sees the same engine: accounts are credentials, not separate data.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub passcode: String,
}

impl std::fmt::Debug for Account {
    /// Passcodes are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account {{ id: {:?}, passcode: \"…\" }}", self.id)
    }
}

impl std::str::FromStr for Account {
    type Err = String;

    /// Parses `ID=PASSCODE`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, passcode) = s.split_once('=').ok_or_else(|| "expected ID=PASSCODE, without the '='".to_owned())?;
        let (id, passcode) = (id.trim(), passcode.trim());
        if id.is_empty() || passcode.is_empty() {
            return Err("expected ID=PASSCODE with both parts non-empty".into());
        }
        for (what, value) in [("account ID", id), ("passcode", passcode)] {
            if !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "the {what} must be printable ASCII without spaces (it travels in an HTTP header)"
                ));
            }
        }
        Ok(Account { id: id.into(), passcode: passcode.into() })
    }
}

/// Settings of the engine API.
#[derive(Debug, Clone)]
pub struct EngineApiConfig {
    /// Accepted credentials; default: `TAPINK-ACCOUNT` / `tapink-passcode`.
    pub accounts: Vec<Account>,
    /// Largest request body, in bytes; larger ones get 413. Default 1 MiB (an upload of 1,000 records fits).
    pub body_limit: usize,
    /// How long a cursor of `/1/profiles.json` or `/1/events.json` stays readable after its query. Default 4 h.
    pub cursor_ttl: Duration,
    /// Most queries with open cursors; a new query past it closes the oldest. Default 1,000.
    pub max_cursors: usize,
    /// Most connections served at once; further clients wait to be accepted. Default 512.
    pub max_connections: usize,
    /// How long a client may take to send its request headers. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight before closing their connections. Default 10 s.
    pub drain_timeout: Duration,
}

impl Default for EngineApiConfig {
    fn default() -> Self {
        Self {
            accounts: vec![Account { id: DEFAULT_ACCOUNT_ID.into(), passcode: DEFAULT_PASSCODE.into() }],
            body_limit: 1024 * 1024,
            cursor_ttl: Duration::from_secs(4 * 3600),
            max_cursors: 1000,
            max_connections: 512,
            header_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl EngineApiConfig {
    /// Checks the settings once, before serving.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let error = |setting, message: &str| Err(ConfigError { setting, message: message.to_owned() });
        if self.accounts.is_empty() {
            return error("accounts", "at least one account is needed");
        }
        for (i, account) in self.accounts.iter().enumerate() {
            if self.accounts[..i].iter().any(|earlier| earlier.id == account.id) {
                let message = format!("account ID {:?} is given twice", account.id);
                return Err(ConfigError { setting: "accounts", message });
            }
        }
        if self.body_limit == 0 {
            return error("body_limit", "must be at least 1 byte");
        }
        if self.cursor_ttl.is_zero() {
            return error("cursor_ttl", "must be longer than zero");
        }
        if self.max_cursors == 0 {
            return error("max_cursors", "must be at least 1");
        }
        if self.max_connections == 0 {
            return error("max_connections", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_from_id_equals_passcode_and_hide_the_passcode() {
        let account: Account = "ACME-1=s3cret".parse().unwrap();
        assert_eq!((account.id.as_str(), account.passcode.as_str()), ("ACME-1", "s3cret"));
        assert!(!format!("{account:?}").contains("s3cret"));
        assert!("nopasscode".parse::<Account>().is_err());
        assert!("=x".parse::<Account>().is_err());
        assert!("a=b c".parse::<Account>().is_err());
    }

    #[test]
    fn the_default_config_is_valid_and_bad_ones_name_the_setting() {
        assert_eq!(EngineApiConfig::default().validate(), Ok(()));
        let twice = EngineApiConfig {
            accounts: vec!["A=1".parse().unwrap(), "A=2".parse().unwrap()],
            ..EngineApiConfig::default()
        };
        assert_eq!(twice.validate().unwrap_err().to_string(), "accounts: account ID \"A\" is given twice");
        let none = EngineApiConfig { body_limit: 0, ..EngineApiConfig::default() };
        assert_eq!(none.validate().unwrap_err().setting, "body_limit");
    }
}
