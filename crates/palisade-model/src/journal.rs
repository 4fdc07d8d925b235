//! The error journal: for every error response, what the client saw and what really happened.

use serde::{Deserialize, Serialize};

/// One error response, keyed by its `target` tracking id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorRecord {
    pub target: String,
    pub time: crate::time::Timestamp,
    pub tenant_id: Option<String>,
    pub app_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Which rule or check fired; the underlying error for 500s. Never sent in an error response.
    pub cause: String,
}

impl ErrorRecord {
    /// A multi-line account for a person (`palisade trace`).
    pub fn to_human(&self) -> String {
        let who = match (&self.tenant_id, &self.app_id) {
            (Some(t), Some(a)) => format!("app {a} in tenant {t}"),
            (Some(t), None) => format!("tenant {t} (app unknown)"),
            _ => "an unauthenticated caller".to_string(),
        };
        format!(
            "target   {}\ntime     {}\ncaller   {}\nrequest  {} {}\nanswer   {} {}\nmessage  {}\ncause    {}\n",
            self.target,
            crate::time::format_api_time(&self.time.0),
            who,
            self.method,
            self.path,
            self.status,
            self.code,
            self.message,
            self.cause
        )
    }
}
