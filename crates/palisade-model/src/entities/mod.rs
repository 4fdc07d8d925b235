//! Entities exactly as the API spells them: property names, casing, order and enum values.

pub mod action;
pub mod alert;
pub mod file;
pub mod incident;
pub mod indicator;
pub mod investigation;
pub mod library;
pub mod machine;

pub use action::{
    ActionStatus, ActionType, CommandParam, CommandStatus, LiveResponseCommand, MachineAction, RelatedFileInfo,
};
pub use alert::{
    Alert, AlertCategory, AlertComment, AlertSeverity, AlertStatus, Classification, Determination, Evidence,
    InvestigationState, RelatedUser,
};
pub use file::{legacy, DomainStats, File, FileStats, IpStats};
pub use incident::{
    IncidentClassification, IncidentComment, IncidentDetermination, IncidentRecord, IncidentSeverity, IncidentStatus,
    XdrIncident,
};
pub use indicator::{Indicator, IndicatorAction, IndicatorSeverity, IndicatorSourceType, IndicatorType};
pub use investigation::{Investigation, User};
pub use library::LibraryFile;
pub use machine::{DeviceValue, ExposureLevel, HealthStatus, IpAddress, Machine, OnboardingStatus, RiskScore};

/// Declares a string enum with its wire spelling, a case-insensitive parser (the service is lenient
/// about enum casing in bodies), and the list of allowed values for error messages.
#[macro_export]
macro_rules! api_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const VALUES: &'static [&'static str] = &[$(stringify!($variant)),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Parses a value case-insensitively.
            pub fn parse(value: &str) -> Option<Self> {
                $(if value.eq_ignore_ascii_case(stringify!($variant)) { return Some($name::$variant); })+
                None
            }

            /// Parses a request value, or `InvalidInput` naming the property, the value and the
            /// allowed values.
            pub fn parse_input(property: &str, value: &str) -> Result<Self, palisade_error::ApiError> {
                Self::parse(value).ok_or_else(|| {
                    palisade_error::ApiError::invalid_input(
                        format!("{property} '{value}'; allowed values are: {}", Self::VALUES.join(", ")),
                        concat!(stringify!($name), " value"),
                    )
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
