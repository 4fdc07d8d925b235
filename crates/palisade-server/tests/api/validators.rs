//! Value validation of indicators (`shared/reference/mde-api.md` §5.4), through `POST /api/indicators`:
//! for each kind a table of valid values (200, stored in canonical form, listed) and invalid ones
//! (400 with the kind's code and the value named in the message).

use palisade_testkit::*;
use serde_json::{json, Value};

/// What a refused value's message is expected to quote: the value, or its start when overlong
/// (messages cut long values).
fn mention(value: &str) -> String {
    value.chars().take(100).collect()
}

async fn submit_row(app: &TestApp, token: &str, kind: &str, action: &str, value: &str) -> reqwest::Response {
    let body = json!({
        "indicatorValue": value,
        "indicatorType": kind,
        "action": action,
        "title": "validator table",
        "description": "one row of the table",
    });
    app.post("/api/indicators", token, &body.to_string()).await
}

/// Submits every row; valid rows must answer 200 with `canonical` as the stored value and be
/// listed afterwards, invalid rows must answer 400 `code` naming the value.
async fn run_table(kind: &str, action: &str, code: &str, valid: &[(String, String)], invalid: &[String]) {
    assert!(
        valid.len() + invalid.len() >= 30,
        "{kind}: a table of at least 30 values"
    );
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let mut ids: Vec<String> = Vec::new();
    for (value, canonical) in valid {
        let response = submit_row(&app, &token, kind, action, value).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{kind} {value:?} should be accepted: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["indicatorValue"], canonical.as_str(), "{kind} {value:?}");
        assert_eq!(body["indicatorType"], kind);
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for value in invalid {
        let response = submit_row(&app, &token, kind, action, value).await;
        expect_error(&app, response, 400, code, &[&mention(value)]).await;
    }
    let listed = app
        .get_ok(
            &format!("/api/indicators?$filter=indicatorType%20eq%20%27{kind}%27&$top=10000"),
            &token,
        )
        .await;
    let listed_ids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        listed_ids.len(),
        ids.len(),
        "{kind}: exactly the accepted values are listed"
    );
    for id in &ids {
        assert!(listed_ids.contains(&id.as_str()), "{kind}: indicator {id} listed");
    }
}

fn same(values: &[&str]) -> Vec<(String, String)> {
    values.iter().map(|v| (v.to_string(), v.to_string())).collect()
}

fn pairs(values: &[(&str, &str)]) -> Vec<(String, String)> {
    values.iter().map(|(v, c)| (v.to_string(), c.to_string())).collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// Hash tables share their shapes: `len` hex characters valid, everything else refused.
fn hash_table(len: usize, other_lengths: &[usize]) -> (Vec<(String, String)>, Vec<String>) {
    let lower: String = "0123456789abcdef".chars().cycle().take(len).collect();
    let upper = lower.to_uppercase().replace('0', "1");
    let mixed: String = "aBcDeF0123456789".chars().cycle().take(len).collect();
    let mut valid = vec![
        (lower.clone(), lower.clone()),
        (upper.clone(), upper.to_lowercase()),
        (mixed.clone(), mixed.to_lowercase()),
    ];
    for digit in "23456789".chars() {
        let v: String = std::iter::repeat_n(digit, len).collect();
        valid.push((v.clone(), v));
    }
    for letter in "bcdef".chars() {
        let v: String = std::iter::repeat_n(letter, len).collect();
        valid.push((v.clone(), v));
    }
    let mut invalid: Vec<String> = vec![
        String::from("x"),
        "a".repeat(len - 1),
        "a".repeat(len + 1),
        "g".repeat(len),
        "z".repeat(len),
        format!("{}-", "a".repeat(len - 1)),
        format!(" {}", "a".repeat(len - 1)),
        format!("{} ", "a".repeat(len - 1)),
        format!("0x{}", "a".repeat(len - 2)),
        format!("{}é", "a".repeat(len - 1)),
        format!("{}.", "a".repeat(len - 1)),
        "a".repeat(len * 2),
        "not a hash at all".into(),
        "ab cd ef".into(),
        "e3b0c44298fc1c149afbf4c8996fb924".repeat(3),
    ];
    for n in other_lengths {
        invalid.push("a".repeat(*n));
    }
    (valid, invalid)
}

#[tokio::test]
async fn sha1_indicators_take_40_hex_characters_in_either_case() {
    let (valid, invalid) = hash_table(40, &[32, 64, 39]);
    run_table("FileSha1", "Block", "InvalidHashValue", &valid, &invalid).await;
}

#[tokio::test]
async fn sha256_indicators_take_64_hex_characters_in_either_case() {
    let (valid, invalid) = hash_table(64, &[32, 40, 63]);
    run_table("FileSha256", "BlockAndRemediate", "InvalidHashValue", &valid, &invalid).await;
}

#[tokio::test]
async fn md5_indicators_take_32_hex_characters_in_either_case() {
    let (valid, invalid) = hash_table(32, &[40, 64, 31]);
    run_table("FileMd5", "Allowed", "InvalidHashValue", &valid, &invalid).await;
}

#[tokio::test]
async fn certificate_thumbprints_are_40_hex_characters() {
    let (valid, invalid) = hash_table(40, &[32, 64, 20]);
    run_table("CertificateThumbprint", "Allowed", "InvalidHashValue", &valid, &invalid).await;
}

#[tokio::test]
async fn ip_indicators_take_one_public_address() {
    let mut valid = same(&[
        "8.8.8.8",
        "1.1.1.1",
        "9.9.9.9",
        "100.128.0.1",
        "172.32.0.1",
        "192.169.0.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001:81b::200e",
    ]);
    valid.extend(pairs(&[
        ("2001:4860:4860:0:0:0:0:8844", "2001:4860:4860::8844"),
        ("2606:4700:4700:0000:0000:0000:0000:1001", "2606:4700:4700::1001"),
        ("2A00:1450::1", "2a00:1450::1"),
    ]));
    let invalid = strings(&[
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.10.10",
        "100.64.0.1",
        "0.0.0.0",
        "192.0.2.10",
        "198.51.100.7",
        "203.0.113.5",
        "224.0.0.251",
        "255.255.255.255",
        "240.1.2.3",
        "::1",
        "::",
        "fe80::1",
        "fd12:3456::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:192.168.0.1",
        "8.8.8.0/24",
        "8.8.8.1-8.8.8.9",
        "8.8.8.*",
        "8.8.8.8:53",
        "[2001:4860::8888]",
        "fe80::1%eth0",
        "010.8.8.8",
        "8.8.8",
        "8.8.8.256",
        " 8.8.8.8",
        "dns.google",
        "1:2:3:4:5:6:7:8:9",
        "",
    ]);
    run_table("IpAddress", "Block", "InvalidIpAddress", &valid, &invalid).await;
}

#[tokio::test]
async fn domain_indicators_take_bare_names_in_canonical_form() {
    let label63 = "a".repeat(63);
    let long253 = format!("{0}.{0}.{0}.{1}.com", "b".repeat(63), "c".repeat(57));
    assert_eq!(long253.len(), 253);
    let mut valid = same(&[
        "example.com",
        "sub.domain.example.net",
        "a-b.co.uk",
        "r3---sn-abc.googlevideo.com",
        "xn--bcher-kva.example",
        "123.example",
        "x.io",
    ]);
    valid.extend(pairs(&[
        ("Example.ORG", "example.org"),
        ("example.edu.", "example.edu"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("MÜNCHEN.de", "xn--mnchen-3ya.de"),
    ]));
    valid.push((format!("{label63}.com"), format!("{label63}.com")));
    valid.push((long253.clone(), long253.clone()));
    let invalid: Vec<String> = [
        "",
        "localhost",
        "com",
        "example..com",
        ".example.com",
        "example.com..",
        "-example.com",
        "example-.com",
        "exa_mple.com",
        "https://example.com",
        "example.com/path",
        "example.com:443",
        "*.example.com",
        "user@example.com",
        "exa mple.com",
        " example.com",
        "1.2.3.4",
        "xn--99999999999.com",
        "xn--abc-.com",
        "bü!cher.de",
        "example.com?q=1",
        "[::1]",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("{}.com", "a".repeat(64)), format!("x{long253}")])
    .collect();
    run_table("DomainName", "Block", "InvalidDomainName", &valid, &invalid).await;
}

#[tokio::test]
async fn url_indicators_take_http_https_or_schemeless_urls() {
    let long_ok = format!("https://example.com/{}", "p".repeat(2048 - 20));
    let mut valid = same(&[
        "https://example.com/block",
        "http://example.com/",
        "https://example.com",
        "example.com/block",
        "https://sub.example.org/a/b?c=d&e=f",
        "https://example.com:8443/path",
        "http://8.8.8.8/payload.exe",
        "http://[2001:4860::8888]/x",
        "https://xn--bcher-kva.example/%20file",
        "https://example.com/CaseKept/Path",
    ]);
    valid.extend(pairs(&[
        ("HTTPS://EXAMPLE.COM/Path", "https://example.com/Path"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("https://example.com./x", "https://example.com/x"),
    ]));
    valid.push((long_ok.clone(), long_ok));
    let invalid: Vec<String> = [
        "",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "javascript://alert(1)",
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://example.com/a#fragment",
        "https://example.com/a b",
        "https:///path",
        "https://localhost/",
        "https://exa_mple.com/",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://example.com:abc/",
        "https://256.1.1.1/",
        "https://[2001:db8::1/",
        "https://[zz::1]/",
        "https://example.com/%zz",
        "https://*.example.com/",
        "https://-example.com/",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("https://example.com/{}", "p".repeat(2048))])
    .collect();
    run_table("Url", "Block", "InvalidUrl", &valid, &invalid).await;
}
