//! Relations between entities that the entities themselves do not carry as queryable properties.
//! Keys naming users are the account name in lower case (the users routes take the bare name).

/// Machine id → user ids (`domain\\name`) that logged on to it.
pub const MACHINE_USERS: &str = "machine-users";
/// Account name (lower case) → ids of the machines it logged on to.
pub const USER_MACHINES: &str = "user-machines";
/// Account name (lower case) → ids of the alerts it is related to.
pub const USER_ALERTS: &str = "user-alerts";

/// The key of a user in the `USER_*` relations.
pub fn user_key(account_name: &str) -> String {
    account_name.to_lowercase()
}
