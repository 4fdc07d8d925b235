//! A small deterministic dataset over three hunting tables, and result formatting.
#![allow(dead_code)]

use palisade_kql::*;

/// The fixed `now` of every test: 2025-06-15T12:00:00Z.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-06-15T12:00:00Z")
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

pub fn opts() -> ExecOptions {
    ExecOptions::hunting(now())
}

fn dt(s: &str) -> Value {
    Value::DateTime(parse_datetime(s).unwrap_or(0))
}

fn table(src: &mut MemorySource, name: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
    src.add_table(name, cols.iter().map(|c| c.to_string()).collect(), rows);
}

fn s(x: &str) -> Value {
    Value::str(x)
}

fn j(x: &str) -> Value {
    Value::Dynamic(serde_json::from_str(x).unwrap_or(serde_json::Value::Null))
}

/// DeviceProcessEvents (12 rows, one older than 30 days), DeviceInfo (4 rows),
/// DeviceNetworkEvents (8 rows).
pub fn dataset() -> MemorySource {
    let mut src = MemorySource::new();
    let l = Value::Long;
    table(
        &mut src,
        "DeviceProcessEvents",
        &[
            "Timestamp",
            "DeviceId",
            "DeviceName",
            "ActionType",
            "FileName",
            "FolderPath",
            "ProcessCommandLine",
            "AccountName",
            "FileSize",
            "ProcessId",
            "InitiatingProcessFileName",
            "AdditionalFields",
        ],
        vec![
            vec![
                dt("2025-06-15T10:00:00Z"),
                s("d1"),
                s("ws-01"),
                s("ProcessCreated"),
                s("cmd.exe"),
                s("C:\\Windows\\System32\\cmd.exe"),
                s("cmd.exe /c whoami"),
                s("alice"),
                l(1000),
                l(101),
                s("explorer.exe"),
                j(r#"{"Tags":["a","b"],"Level":3}"#),
            ],
            vec![
                dt("2025-06-15T09:30:00Z"),
                s("d1"),
                s("ws-01"),
                s("ProcessCreated"),
                s("powershell.exe"),
                s("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
                s("powershell.exe -enc SQBFAFgA"),
                s("alice"),
                l(5000),
                l(102),
                s("cmd.exe"),
                j(r#"{"Tags":["b"],"Level":5}"#),
            ],
            vec![
                dt("2025-06-14T23:59:59.1234567Z"),
                s("d2"),
                s("WS-02"),
                s("ProcessCreated"),
                s("notepad.exe"),
                s("C:\\Windows\\notepad.exe"),
                s("notepad.exe report.txt"),
                s("bob"),
                l(200),
                l(201),
                s("explorer.exe"),
                Value::Null,
            ],
            vec![
                dt("2025-06-14T08:00:00Z"),
                s("d2"),
                s("WS-02"),
                s("ProcessCreated"),
                s("cmd.exe"),
                s("C:\\Windows\\System32\\cmd.exe"),
                s("cmd.exe /c dir"),
                s("bob"),
                l(1000),
                l(202),
                s("powershell.exe"),
                j(r#"{"Tags":[],"Level":1}"#),
            ],
            vec![
                dt("2025-06-13T12:00:00Z"),
                s("d3"),
                s("srv-db"),
                s("ProcessCreated"),
                s("sqlservr.exe"),
                s("D:\\SQL\\sqlservr.exe"),
                s("sqlservr.exe -s MSSQL"),
                s("svc_sql"),
                l(90000),
                l(301),
                s("services.exe"),
                j(r#"{"Level":2}"#),
            ],
            vec![
                dt("2025-06-13T12:30:00Z"),
                s("d3"),
                s("srv-db"),
                s("OpenProcessApiCall"),
                s("lsass.exe"),
                s("C:\\Windows\\System32\\lsass.exe"),
                s(""),
                s("system"),
                Value::Null,
                l(4),
                s("mimikatz.exe"),
                Value::Null,
            ],
            vec![
                dt("2025-06-10T06:00:00Z"),
                s("d4"),
                s("laptop-7"),
                s("ProcessCreated"),
                s("mimikatz.exe"),
                s("C:\\Users\\eve\\Downloads\\mimikatz.exe"),
                s("mimikatz.exe privilege::debug sekurlsa::logonpasswords"),
                s("eve"),
                l(1250000),
                l(401),
                s("cmd.exe"),
                j(r#"{"Tags":["x","y","z"],"Level":9}"#),
            ],
            vec![
                dt("2025-06-10T06:05:00Z"),
                s("d4"),
                s("laptop-7"),
                s("ProcessCreated"),
                s("cmd.exe"),
                s("C:\\Windows\\System32\\cmd.exe"),
                s("cmd.exe /c net user"),
                s("eve"),
                l(1000),
                l(402),
                s("explorer.exe"),
                Value::Null,
            ],
            vec![
                dt("2025-06-01T00:00:00Z"),
                s("d1"),
                s("ws-01"),
                s("ProcessCreated"),
                s("chrome.exe"),
                s("C:\\Program Files\\Google\\Chrome\\chrome.exe"),
                s("chrome.exe --type=renderer"),
                s("alice"),
                l(3000000),
                l(103),
                s("explorer.exe"),
                Value::Null,
            ],
            vec![
                dt("2025-05-20T00:00:00Z"),
                s("d2"),
                s("WS-02"),
                s("ProcessCreated"),
                s("PowerShell.exe"),
                s("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\PowerShell.exe"),
                s("PowerShell.exe Get-Process"),
                s("bob"),
                l(5000),
                l(203),
                s("explorer.exe"),
                Value::Null,
            ],
            vec![
                dt("2025-06-15T11:59:00Z"),
                s("d3"),
                s("srv-db"),
                s("ProcessCreated"),
                s("whoami.exe"),
                s("C:\\Windows\\System32\\whoami.exe"),
                s("whoami /all"),
                s("svc_sql"),
                l(300),
                l(302),
                s("cmd.exe"),
                Value::Null,
            ],
            // Older than the 30-day window: never visible.
            vec![
                dt("2025-04-01T00:00:00Z"),
                s("d1"),
                s("ws-01"),
                s("ProcessCreated"),
                s("old.exe"),
                s("C:\\old.exe"),
                s("old.exe"),
                s("alice"),
                l(1),
                l(1),
                s("explorer.exe"),
                Value::Null,
            ],
        ],
    );
    table(
        &mut src,
        "DeviceInfo",
        &[
            "Timestamp",
            "DeviceId",
            "DeviceName",
            "OSPlatform",
            "OSBuild",
            "IsAzureADJoined",
            "LoggedOnUsers",
            "PublicIP",
        ],
        vec![
            vec![
                dt("2025-06-15T00:00:00Z"),
                s("d1"),
                s("ws-01"),
                s("Windows11"),
                l(22631),
                Value::Bool(true),
                j(r#"[{"UserName":"alice"}]"#),
                s("203.0.113.5"),
            ],
            vec![
                dt("2025-06-15T00:00:00Z"),
                s("d2"),
                s("WS-02"),
                s("Windows10"),
                l(19045),
                Value::Bool(false),
                j(r#"[{"UserName":"bob"},{"UserName":"admin"}]"#),
                s("203.0.113.6"),
            ],
            vec![
                dt("2025-06-15T00:00:00Z"),
                s("d3"),
                s("srv-db"),
                s("WindowsServer2022"),
                l(20348),
                Value::Bool(true),
                j("[]"),
                s(""),
            ],
            vec![
                dt("2025-06-14T00:00:00Z"),
                s("d5"),
                s("mac-1"),
                s("macOS"),
                Value::Null,
                Value::Bool(false),
                Value::Null,
                s("198.51.100.1"),
            ],
        ],
    );
    table(
        &mut src,
        "DeviceNetworkEvents",
        &[
            "Timestamp",
            "DeviceId",
            "DeviceName",
            "ActionType",
            "RemoteIP",
            "RemotePort",
            "RemoteUrl",
            "LocalPort",
            "Protocol",
            "InitiatingProcessFileName",
        ],
        vec![
            vec![
                dt("2025-06-15T10:01:00Z"),
                s("d1"),
                s("ws-01"),
                s("ConnectionSuccess"),
                s("10.0.0.5"),
                l(445),
                s(""),
                l(50001),
                s("Tcp"),
                s("cmd.exe"),
            ],
            vec![
                dt("2025-06-15T10:02:00Z"),
                s("d1"),
                s("ws-01"),
                s("ConnectionSuccess"),
                s("93.184.216.34"),
                l(443),
                s("www.example.com"),
                l(50002),
                s("Tcp"),
                s("powershell.exe"),
            ],
            vec![
                dt("2025-06-14T09:00:00Z"),
                s("d2"),
                s("WS-02"),
                s("ConnectionFailed"),
                s("10.0.0.9"),
                l(3389),
                s(""),
                l(50003),
                s("Tcp"),
                s("mstsc.exe"),
            ],
            vec![
                dt("2025-06-14T09:05:00Z"),
                s("d2"),
                s("WS-02"),
                s("ConnectionSuccess"),
                s("8.8.8.8"),
                l(53),
                s("dns.google"),
                l(50004),
                s("Udp"),
                s("svchost.exe"),
            ],
            vec![
                dt("2025-06-13T12:10:00Z"),
                s("d3"),
                s("srv-db"),
                s("InboundConnectionAccepted"),
                s("10.0.0.7"),
                l(1433),
                s(""),
                l(1433),
                s("Tcp"),
                s("sqlservr.exe"),
            ],
            vec![
                dt("2025-06-10T06:10:00Z"),
                s("d4"),
                s("laptop-7"),
                s("ConnectionSuccess"),
                s("185.220.101.1"),
                l(443),
                s("evil.example.net"),
                l(50005),
                s("Tcp"),
                s("mimikatz.exe"),
            ],
            vec![
                dt("2025-06-10T06:11:00Z"),
                s("d4"),
                s("laptop-7"),
                s("ConnectionSuccess"),
                s("185.220.101.1"),
                l(8080),
                s("evil.example.net"),
                l(50006),
                s("Tcp"),
                s("mimikatz.exe"),
            ],
            vec![
                dt("2025-06-12T00:00:00Z"),
                s("d9"),
                s("unknown-host"),
                s("ConnectionSuccess"),
                s("1.1.1.1"),
                l(443),
                s("one.one.one.one"),
                l(50007),
                s("Tcp"),
                s("curl.exe"),
            ],
        ],
    );
    src
}

/// `Name:type, ...` then one line per row with JSON-rendered values.
pub fn format_result(r: &QueryResult) -> String {
    let mut out = String::new();
    let head: Vec<String> = r.columns.iter().map(|(n, t)| format!("{n}:{t}")).collect();
    out.push_str(&head.join(", "));
    for row in &r.rows {
        out.push('\n');
        let cells: Vec<String> = row
            .iter()
            .zip(&r.columns)
            .map(|(v, (_, t))| value_json(v, *t).to_string())
            .collect();
        out.push_str(&cells.join(", "));
    }
    if r.truncated {
        out.push_str("\n(truncated)");
    }
    out
}
