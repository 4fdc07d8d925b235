//! OData on `GET /api/machines`, through HTTP: every operator, function and literal form on the demo
//! data (expected answers computed here from the unfiltered list), the documented examples, paging,
//! `$count`, `$select`, and a table of malformed queries each answered with a precise `ODataError`.

use palisade_testkit::*;
use serde_json::Value;

struct Fixture {
    app: TestApp,
    token: String,
    all: Vec<Value>,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    let body: Value = app.get("/api/machines", &token).await.json().await.unwrap();
    let all = body["value"].as_array().unwrap().clone();
    Fixture { app, token, all }
}

impl Fixture {
    async fn ids(&self, query: &str) -> Vec<String> {
        let response = self.app.get(&format!("/api/machines?{query}"), &self.token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{query}: {body}");
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Ids of the demo machines satisfying `keep`, in the default order (by id).
    fn expected(&self, keep: impl Fn(&Value) -> bool) -> Vec<String> {
        let mut ids: Vec<String> = self
            .all
            .iter()
            .filter(|m| keep(m))
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    async fn check(&self, query: &str, keep: impl Fn(&Value) -> bool) {
        let expected = self.expected(keep);
        assert_eq!(self.ids(query).await, expected, "{query}");
    }
}

fn s<'a>(m: &'a Value, key: &str) -> &'a str {
    m[key].as_str().unwrap_or("")
}

fn tags(m: &Value) -> Vec<&str> {
    m["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

const RISK: &[&str] = &["None", "Informational", "Low", "Medium", "High"];

fn risk_rank(m: &Value) -> usize {
    RISK.iter().position(|r| *r == s(m, "riskScore")).unwrap()
}

#[tokio::test]
async fn comparison_operators_on_every_literal_kind() {
    let f = fixture().await;
    let sample = f.all[3].clone();
    let name = s(&sample, "computerDnsName").to_string();
    f.check(&format!("$filter=computerDnsName eq '{name}'"), |m| {
        s(m, "computerDnsName") == name
    })
    .await;
    f.check("$filter=healthStatus ne 'Active'", |m| s(m, "healthStatus") != "Active")
        .await;
    f.check("$filter=rbacGroupId gt 140", |m| {
        m["rbacGroupId"].as_i64().unwrap() > 140
    })
    .await;
    f.check("$filter=rbacGroupId ge 141", |m| {
        m["rbacGroupId"].as_i64().unwrap() >= 141
    })
    .await;
    f.check("$filter=rbacGroupId lt 141", |m| {
        m["rbacGroupId"].as_i64().unwrap() < 141
    })
    .await;
    f.check("$filter=rbacGroupId le 0", |m| m["rbacGroupId"].as_i64().unwrap() <= 0)
        .await;
    f.check("$filter=riskScore gt 'Low'", |m| risk_rank(m) > 2).await;
    f.check("$filter=isAadJoined eq true", |m| m["isAadJoined"] == true)
        .await;
    f.check("$filter=isAadJoined eq false", |m| m["isAadJoined"] == false)
        .await;
    f.check("$filter=aadDeviceId eq null", |m| m["aadDeviceId"].is_null())
        .await;
    f.check("$filter=aadDeviceId ne null", |m| !m["aadDeviceId"].is_null())
        .await;
    f.check("$filter=osBuild ge 19044", |m| {
        m["osBuild"].as_i64().is_some_and(|b| b >= 19044)
    })
    .await;
    let guid = f
        .all
        .iter()
        .find_map(|m| m["aadDeviceId"].as_str())
        .unwrap()
        .to_string();
    f.check(&format!("$filter=aadDeviceId eq {guid}"), |m| {
        s(m, "aadDeviceId") == guid
    })
    .await;
    f.check(&format!("$filter=aadDeviceId eq '{}'", guid.to_uppercase()), |m| {
        s(m, "aadDeviceId") == guid
    })
    .await;
}

#[tokio::test]
async fn date_time_literals_in_every_documented_form() {
    let f = fixture().await;
    let mut seen: Vec<&str> = f.all.iter().map(|m| s(m, "lastSeen")).collect();
    seen.sort();
    let middle = seen[seen.len() / 2].to_string();
    f.check(&format!("$filter=lastSeen ge {middle}"), |m| {
        s(m, "lastSeen") >= middle.as_str()
    })
    .await;
    f.check(&format!("$filter=lastSeen lt {middle}"), |m| {
        s(m, "lastSeen") < middle.as_str()
    })
    .await;
    f.check("$filter=lastSeen gt 2018-08-01Z", |_| true).await;
    f.check("$filter=firstSeen lt 2018-08-01", |_| false).await;
    f.check("$filter=lastSeen ge 2019-11-22T00:00:00Z", |_| true).await;
    f.check("$filter=lastSeen le 2019-11-22T00:00:00.1234567%2B02:00", |_| false)
        .await;
}

#[tokio::test]
async fn logical_operators_parentheses_and_in() {
    let f = fixture().await;
    f.check("$filter=osPlatform eq 'Linux' or osPlatform eq 'macOS'", |m| {
        matches!(s(m, "osPlatform"), "Linux" | "macOS")
    })
    .await;
    f.check("$filter=osPlatform eq 'Windows10' and healthStatus eq 'Active'", |m| {
        s(m, "osPlatform") == "Windows10" && s(m, "healthStatus") == "Active"
    })
    .await;
    f.check("$filter=not (osPlatform eq 'Windows10')", |m| {
        s(m, "osPlatform") != "Windows10"
    })
    .await;
    f.check(
        "$filter=(osPlatform eq 'Linux' or osPlatform eq 'macOS') and not (riskScore eq 'High')",
        |m| matches!(s(m, "osPlatform"), "Linux" | "macOS") && s(m, "riskScore") != "High",
    )
    .await;
    f.check("$filter=osPlatform in ('iOS', 'Android')", |m| {
        matches!(s(m, "osPlatform"), "iOS" | "Android")
    })
    .await;
}

#[tokio::test]
async fn string_functions() {
    let f = fixture().await;
    f.check("$filter=startswith(computerDnsName,'mac')", |m| {
        s(m, "computerDnsName").starts_with("mac")
    })
    .await;
    f.check("$filter=endswith(computerDnsName,'-01.contoso.local')", |m| {
        s(m, "computerDnsName").ends_with("-01.contoso.local")
    })
    .await;
    f.check("$filter=contains(computerDnsName,'top')", |m| {
        s(m, "computerDnsName").contains("top")
    })
    .await;
    f.check("$filter=contains(computerDnsName,'TOP')", |_| false).await;
    f.check("$filter=tolower(osPlatform) eq 'macos'", |m| {
        s(m, "osPlatform") == "macOS"
    })
    .await;
    f.check("$filter=toupper(osPlatform) eq 'LINUX'", |m| {
        s(m, "osPlatform") == "Linux"
    })
    .await;
    f.check("$filter=startswith(tolower(osPlatform),'windows')", |m| {
        s(m, "osPlatform").starts_with("Windows")
    })
    .await;
}

#[tokio::test]
async fn collection_lambdas_over_machine_tags() {
    let f = fixture().await;
    f.check("$filter=machineTags/any(t: t eq 'VIP')", |m| tags(m).contains(&"VIP"))
        .await;
    f.check("$filter=machineTags/any(t: startswith(t, 'Contoso'))", |m| {
        tags(m).iter().any(|t| t.starts_with("Contoso"))
    })
    .await;
    f.check("$filter=machineTags/all(t: t ne 'VIP')", |m| !tags(m).contains(&"VIP"))
        .await;
    f.check("$filter=machineTags/any()", |m| !tags(m).is_empty()).await;
    f.check("$filter=not machineTags/any()", |m| tags(m).is_empty()).await;
    // Quotes inside a string literal are doubled.
    f.check("$filter=machineTags/any(t: t eq 'Contoso Branch (West)')", |m| {
        tags(m).contains(&"Contoso Branch (West)")
    })
    .await;
    f.check("$filter=machineTags/any(t: t eq 'O''Brien')", |_| false).await;
}

#[tokio::test]
async fn documented_examples_and_url_space_forms() {
    let f = fixture().await;
    // mde-api.md §1.5 examples: PascalCase properties, '+' and '%20' as spaces.
    f.check("$filter=riskScore+eq+'High'", |m| s(m, "riskScore") == "High")
        .await;
    f.check("$filter=RiskScore%20eq%20'High'", |m| s(m, "riskScore") == "High")
        .await;
    f.check("$filter=HealthStatus+ne+'Active'", |m| s(m, "healthStatus") != "Active")
        .await;
    f.check("$filter=ExposureLevel+eq+'High'", |m| s(m, "exposureLevel") == "High")
        .await;
    f.check("$filter=onboardingStatus eq 'Onboarded'", |m| {
        s(m, "onboardingStatus") == "Onboarded"
    })
    .await;
    f.check("$filter=OsPlatform eq 'Windows10'", |m| {
        s(m, "osPlatform") == "Windows10"
    })
    .await;
    f.check("$filter=RbacGroupId eq 140", |m| m["rbacGroupId"] == 140).await;
    f.check("$filter=riskScore eq 'high'", |m| s(m, "riskScore") == "High")
        .await;
    let ids = f.ids("$filter=ComputerDnsName+eq+'web-01.contoso.local'").await;
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn orderby_top_skip_select_and_count() {
    let f = fixture().await;
    let mut names: Vec<(String, String)> = f
        .all
        .iter()
        .map(|m| (s(m, "computerDnsName").to_string(), s(m, "id").to_string()))
        .collect();
    names.sort();
    let by_name: Vec<String> = names.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(f.ids("$orderby=computerDnsName").await, by_name);
    let mut reversed = names.clone();
    reversed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let by_name_desc: Vec<String> = reversed.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(f.ids("$orderby=computerDnsName desc").await, by_name_desc);
    assert_eq!(f.ids("$orderby=computerDnsName&$top=5").await, by_name[..5]);
    assert_eq!(f.ids("$orderby=computerDnsName&$top=5&$skip=5").await, by_name[5..10]);
    assert!(f.ids("$skip=1000").await.is_empty());

    let body: Value = f
        .app
        .get("/api/machines?$select=id,computerDnsName&$top=2", &f.token)
        .await
        .json()
        .await
        .unwrap();
    let first = body["value"][0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["id", "computerDnsName"]);

    let body: Value = f
        .app
        .get(
            "/api/machines?$filter=osPlatform eq 'Linux'&$count=true&$top=1",
            &f.token,
        )
        .await
        .json()
        .await
        .unwrap();
    let linux = f.expected(|m| s(m, "osPlatform") == "Linux").len();
    assert_eq!(body["@odata.count"], linux as u64);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    let response = f
        .app
        .get("/api/machines/$count?$filter=osPlatform eq 'Linux'", &f.token)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), linux.to_string());
    let response = f.app.get("/api/machines/$count", &f.token).await;
    assert_eq!(response.text().await.unwrap(), f.all.len().to_string());
}

#[tokio::test]
async fn next_link_pages_through_everything_preserving_other_options() {
    let app = TestApp::spawn_with(|c| c.page_size = 10).await;
    let token = app.token().await;
    let mut url = format!(
        "{}/api/machines?$filter=rbacGroupId+ge+0&$orderby=computerDnsName",
        app.https
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let body: Value = app
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| s(m, "computerDnsName").to_string()),
        );
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("{}/api/machines?", app.https)), "{next}");
                assert!(
                    next.contains("$filter=rbacGroupId+ge+0") && next.contains("$orderby=computerDnsName"),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages in order, no duplicates");
    assert_eq!(seen.len(), 36);
}

#[tokio::test]
async fn a_top_smaller_than_the_result_also_links_to_the_rest() {
    let f = fixture().await;
    let body: Value = f.app.get("/api/machines?$top=30", &f.token).await.json().await.unwrap();
    let next = body["@odata.nextLink"].as_str().expect("more remain");
    assert!(next.ends_with("$top=30&$skip=30"), "{next}");
    let body: Value = f
        .app
        .get(&format!("/api/machines?$top={}", f.all.len()), &f.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("@odata.nextLink").is_none());
}

/// (query, words the ODataError message must contain)
const MALFORMED: &[(&str, &[&str])] = &[
    (
        "$filter=riskscore2 eq 'High'",
        &["riskscore2", "does not exist", "Machine"],
    ),
    (
        "$filter=riskScore eq 'Critical'",
        &["'Critical'", "None, Informational, Low, Medium, High"],
    ),
    ("$filter=riskScore eq High", &["High"]),
    ("$filter=riskScore eq", &["end", "$filter"]),
    ("$filter=(riskScore eq 'High'", &["')'"]),
    ("$filter=riskScore eq 'High')", &["')'", "position"]),
    ("$filter=riskScore eq 'High", &["unterminated"]),
    ("$filter=riskScore equals 'High'", &["equals"]),
    ("$filter=riskScore eq 'High' and", &["$filter"]),
    ("$filter=and riskScore eq 'High'", &["and"]),
    ("$filter=", &["$filter", "empty"]),
    ("$filter=rbacGroupId eq 'abc'", &["rbacGroupId"]),
    ("$filter=rbacGroupId eq 1.5", &["1.5"]),
    ("$filter=lastSeen gt '2019-01-01'", &["lastSeen"]),
    ("$filter=lastSeen gt 2019-13-45Z", &["2019-13-45Z"]),
    ("$filter=computerDnsName eq 5", &["computerDnsName"]),
    ("$filter=isAadJoined eq 'yes'", &["isAadJoined"]),
    ("$filter=aadDeviceId eq not-a-guid", &["'-'", "position 19"]),
    ("$filter=machineTags eq 'VIP'", &["machineTags", "any"]),
    ("$filter=computerDnsName/any(t: t eq 'x')", &["computerDnsName"]),
    ("$filter=machineTags/any(t: x eq 'VIP')", &["x"]),
    ("$filter=machineTags/some(t: t eq 'VIP')", &["some"]),
    ("$filter=substringof('a',computerDnsName)", &["substringof", "contains"]),
    ("$filter=startswith(computerDnsName)", &["startswith"]),
    ("$filter=startswith(rbacGroupId,'1')", &["rbacGroupId"]),
    ("$filter=tolower(rbacGroupId) eq '1'", &["rbacGroupId"]),
    ("$filter=osPlatform in ()", &["in"]),
    ("$filter=osPlatform in 'Linux'", &["in"]),
    ("$filter=ipAddresses eq 'x'", &["ipAddresses"]),
    ("$filter=osVersion eq '1'", &["osVersion", "filterable"]),
    ("$filter=riskScore eq 'High' riskScore", &["riskScore", "position"]),
    ("$filter=riskScore eq 'High' %26%26 healthStatus eq 'Active'", &["'&'"]),
    ("$filter=riskScore gt null", &["null"]),
    ("$orderby=riskscore2", &["riskscore2"]),
    ("$orderby=computerDnsName sideways", &["sideways"]),
    ("$orderby=machineTags", &["machineTags"]),
    ("$orderby=", &["$orderby"]),
    ("$top=20000", &["$top", "10000", "20000"]),
    ("$top=-1", &["$top", "-1"]),
    ("$top=ten", &["$top", "ten"]),
    ("$skip=-5", &["$skip", "-5"]),
    ("$skip=abc", &["$skip", "abc"]),
    ("$count=maybe", &["$count", "maybe"]),
    ("$select=id,nonsense", &["nonsense"]),
    ("$expand=evidence", &["evidence"]),
    ("$stop=10", &["$stop"]),
    ("$search=foo", &["$search"]),
    ("$top=1&$top=2", &["$top"]),
];

#[tokio::test]
async fn malformed_queries_answer_odata_error_naming_the_problem() {
    let f = fixture().await;
    assert!(MALFORMED.len() >= 40);
    for (query, mentions) in MALFORMED {
        let response = f.app.get(&format!("/api/machines?{query}"), &f.token).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "ODataError", "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Invalid OData URI query"), "{query}: {message}");
        for mention in *mentions {
            assert!(
                message.contains(mention),
                "{query}: '{message}' should mention '{mention}'"
            );
        }
    }
}

#[tokio::test]
async fn odata_errors_are_journaled_like_every_other_error() {
    let f = fixture().await;
    let response = f.app.get("/api/machines?$filter=riskscore2 eq 'High'", &f.token).await;
    let record = expect_error(&f.app, response, 400, "ODataError", &["riskscore2"]).await;
    assert_eq!(record["cause"], "odata");
}

/// `$top=0` is an empty page without `@odata.nextLink`: a link to the same `$skip` would send a
/// client that follows links round in circles (found on the incidents list; the lists share it).
#[tokio::test]
async fn top_zero_is_an_empty_last_page_on_every_kind_of_list() {
    let app = TestApp::spawn().await;
    let token = app.token().await;
    for path in ["/api/machines", "/api/alerts", "/api/incidents"] {
        let response = app.get(&format!("{path}?$top=0"), &token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["value"].as_array().map(Vec::len), Some(0), "{path}: {body}");
        assert!(body.get("@odata.nextLink").is_none(), "{path}: {body}");
        // The same list with $top=1 does have a next page, so the check above is not vacuous.
        let more: Value = app.get(&format!("{path}?$top=1"), &token).await.json().await.unwrap();
        assert!(more.get("@odata.nextLink").is_some(), "{path}?$top=1: {more}");
    }
}
