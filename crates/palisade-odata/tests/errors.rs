//! Every malformed or invalid query yields an `ODataError` whose message names the
//! offending token.

mod common;

use common::{ALERT, MACHINE};
use palisade_odata::{parse_query, EntitySchema, MESSAGE_PREFIX};

/// (schema, raw query string, substrings the message must contain)
fn cases() -> Vec<(&'static EntitySchema, &'static str, &'static [&'static str])> {
    let m = &MACHINE;
    vec![
        // Options
        (m, "$stop=1", &["unknown system query option '$stop'", "$filter, $orderby"]),
        (m, "$search=abc", &["unsupported system query option '$search'"]),
        (m, "$format=json", &["'$format'"]),
        (m, "$fitler=a eq 1", &["'$fitler'", "did you mean $filter?"]),
        (m, "$top=1&$top=2", &["$top is given more than once"]),
        (m, "$filter=a&$FILTER=b", &["$filter is given more than once"]),
        (m, "$filter=", &["$filter has an empty value"]),
        (m, "$filter=%20%20", &["$filter has an empty value"]),
        (m, "$top=20000", &["$top must be an integer between 0 and 10000, got '20000'"]),
        (m, "$top=-1", &["got '-1'"]),
        (m, "$top=1.5", &["got '1.5'"]),
        (m, "$top=ten", &["got 'ten'"]),
        (m, "$top=", &["got ''"]),
        (m, "$top=99999999999999999999999", &["got '99999999999999999999999'"]),
        (m, "$skip=-5", &["$skip must be an integer between 0 and 4294967295, got '-5'"]),
        (m, "$skip=abc", &["got 'abc'"]),
        (m, "$count=yes", &["$count must be true or false, got 'yes'"]),
        (m, "$orderby=riskscore2", &["property 'riskscore2' does not exist on Machine", "sortable properties are:", "did you mean 'riskScore'?"]),
        (m, "$orderby=machineTags", &["property 'machineTags' of Machine cannot be used in $orderby"]),
        (m, "$orderby=lastSeen descending", &["expected 'asc' or 'desc' after lastSeen, got 'descending' at position 10"]),
        (m, "$orderby=lastSeen desc extra", &["'extra' at position 15"]),
        (m, "$orderby=lastSeen,,id", &["empty item at position 10"]),
        (m, "$orderby=tolower(id)", &["'tolower(id)'"]),
        (m, "$select=id,nope", &["$select, position 4: property 'nope' does not exist on Machine"]),
        (m, "$select=id/x", &["'id/x' at position 1"]),
        (m, "$select=id,", &["empty item at position 4"]),
        (m, "$expand=evidence", &["'evidence' cannot be expanded on Machine", "Machine has no expandable properties"]),
        (&ALERT, "$expand=alerts", &["'alerts' cannot be expanded on Alert; expandable properties are: evidence"]),
        (&ALERT, "$expand=evidence($select=id)", &["nested options at position 9"]),
        // Lexical
        (m, "$filter=computerDnsName eq 'abc", &["unterminated string literal 'abc starting at position 20"]),
        (m, "$filter=computerDnsName eq \"abc\"", &["unexpected character '\"' at position 20", "single quotes"]),
        (m, "$filter=computerDnsName %3D%3D 'a'", &["unexpected character '=' at position 17"]),
        (m, "$filter=lastSeen gt 2019-13-01", &["invalid date-time literal '2019-13-01' at position 13"]),
        (m, "$filter=lastSeen gt 2019-02-30T00:00:00Z", &["'2019-02-30T00:00:00Z'", "no such calendar date"]),
        (m, "$filter=lastSeen gt 2019-11-22T25:00:00Z", &["'2019-11-22T25:00:00Z'", "invalid time of day"]),
        (m, "$filter=rbacGroupId eq 12abc", &["invalid number literal '12abc' at position 16"]),
        (m, "$filter=riskScore eq Microsoft.Defender.RiskScore'High'", &["typed literal 'Microsoft.Defender.RiskScore'High'' at position 14", "plain quoted strings"]),
        (m, "$filter=lastSeen gt datetime'2019-01-01'", &["typed literal 'datetime'2019-01-01''", "unquoted"]),
        (m, "$filter=id eq $it", &["unexpected character '$' at position 7"]),
        // Syntax
        (m, "$filter=riskScore eq 'High' and (computerDnsName eq )", &["unexpected ')' at position 45; expected a value"]),
        (m, "$filter=riskScore eq", &["unexpected end of input; expected a value"]),
        (m, "$filter=riskScore eq 'High' foo", &["unexpected 'foo' at position 21"]),
        (m, "$filter=riskScore equals 'High'", &["unexpected 'equals' at position 11", "comparison operator"]),
        (m, "$filter=(riskScore eq 'High'", &["expected ')' to close the '(' at position 1"]),
        (m, "$filter=riskScore eq 'High')", &["unexpected ')' at position 20 without a matching '('"]),
        (m, "$filter=rbacGroupId eq 1 eq 2", &["chained", "'eq' at position 18"]),
        (m, "$filter=riskScore eq and", &["unexpected 'and' at position 14; expected a value"]),
        (m, "$filter=and riskScore eq 'High'", &["'and' at position 1"]),
        (m, "$filter=substringof('a', computerDnsName)", &["unknown function 'substringof' at position 1", "supported functions are: contains, endswith, startswith, tolower, toupper"]),
        (m, "$filter=length(computerDnsName) gt 1", &["unknown function 'length'"]),
        (m, "$filter=rbacGroupId add 1 eq 2", &["operator 'add' at position 13 is not supported"]),
        (m, "$filter=machineTags/count gt 1", &["unexpected 'count' at position 13", "'any' or 'all'"]),
        (m, "$filter=machineTags/any(t t eq 'a')", &["unexpected 't' at position 19", "':' after the lambda variable 't'"]),
        (m, "$filter=machineTags/any(t: t eq 'a'", &["')' to close any( at position 16"]),
        (m, "$filter=riskScore in ()", &["empty list after 'in' at position 11"]),
        (m, "$filter=riskScore in 'High'", &["unexpected 'High' at position 14", "'(' after 'in'"]),
        (m, "$filter=startswith(computerDnsName 'a')", &["unexpected 'a' at position 28"]),
        (m, "$filter=any(t: t eq 'a')", &["unknown function 'any'", "must follow a collection property"]),
        // Validation
        (m, "$filter=riskscore2 eq 'High'", &["$filter, position 1: property 'riskscore2' does not exist on Machine; filterable properties are: aadDeviceId, computerDnsName,", "did you mean 'riskScore'?"]),
        (m, "$filter=osBuild eq 5", &["property 'osBuild' of Machine cannot be used in $filter"]),
        (m, "$filter=ipAddresses eq 'x'", &["property 'ipAddresses' of Machine cannot be used in $filter"]),
        (m, "$filter=riskScore eq 'Critical'", &["'Critical' is not a valid value of riskScore; allowed values are: None, Informational, Low, Medium, High"]),
        (m, "$filter=riskScore eq High", &["property 'High' does not exist on Machine; if 'High' is meant as a value, put it in single quotes"]),
        (m, "$filter=rbacGroupId eq '5'", &["type mismatch: rbacGroupId is an Int property but '5' is a string; expected an integer"]),
        (m, "$filter=computerDnsName eq 5", &["type mismatch: computerDnsName is a String property but '5' is an integer"]),
        (m, "$filter=computerDnsName gt 2019-01-01", &["computerDnsName is a String property but '2019-01-01' is a date-time"]),
        (m, "$filter=lastSeen gt '2019-01-01'", &["'2019-01-01' is a string; write date-times without quotes"]),
        (m, "$filter=isAadJoined eq 'High'", &["isAadJoined is a Bool property but 'High' is a string; expected true or false"]),
        (m, "$filter=riskScore eq true", &["riskScore is an Enum property but 'true' is a boolean"]),
        (m, "$filter=aadDeviceId eq 'not-a-guid'", &["'not-a-guid' is not a valid GUID for aadDeviceId"]),
        (m, "$filter=rbacGroupId eq 99999999999999999999", &["'99999999999999999999' is out of range"]),
        (m, "$filter=rbacGroupId gt null", &["null can only be compared with eq or ne, not 'gt'"]),
        (m, "$filter=machineTags eq 'x'", &["collection property 'machineTags' cannot be compared directly", "machineTags/any(t: t eq 'value')"]),
        (m, "$filter=riskScore/any(t: t eq 'x')", &["riskScore is an Enum property", "machineTags"]),
        (m, "$filter=startswith(riskScore, 'H')", &["startswith() can only be applied to String properties, but riskScore is an Enum property"]),
        (m, "$filter=tolower(rbacGroupId) eq 'x'", &["tolower() can only be applied to String properties, but rbacGroupId is an Int property"]),
        (m, "$filter=contains(computerDnsName)", &["contains() takes 2 arguments", "got 1"]),
        (m, "$filter=contains(computerDnsName, 5)", &["second argument of contains() must be a string in single quotes, got '5'"]),
        (m, "$filter=contains('abc', computerDnsName)", &["first argument of contains() must be a String property, got 'abc'"]),
        (m, "$filter=tolower(computerDnsName)", &["tolower() returns a string, not a condition"]),
        (m, "$filter=computerDnsName", &["property 'computerDnsName' is not a condition"]),
        (m, "$filter='abc'", &["literal 'abc' is not a condition"]),
        (m, "$filter=computerDnsName eq lastIpAddress", &["comparing two properties with 'eq' is not supported"]),
        (m, "$filter=1 eq 1", &["no property on either side"]),
        (m, "$filter=startswith(computerDnsName, 'a') eq 'x'", &["'startswith(computerDnsName, 'a')' is a condition"]),
        (m, "$filter=machineTags/all()", &["machineTags/all() needs a condition"]),
        (m, "$filter=machineTags/any(t: computerDnsName eq 'x')", &["only the lambda variable 't' can be used, found 'computerDnsName'"]),
        (m, "$filter=machineTags/any(t: t/any(u: u eq 'x'))", &["nested lambdas", "position 20"]),
        (m, "$filter=machineTags/any(t: machineTags/any(u: u eq 'x'))", &["nested lambdas"]),
        (m, "$filter=machineTags/any(t: t eq 5)", &["the lambda variable is a String but '5' is an integer"]),
        (m, "$filter=machineTags/any(t: t)", &["the lambda variable 't' is a string, not a condition"]),
        (m, "$filter=riskScore in ('High', Low)", &["'Low' in an 'in' list is not a literal value"]),
        (m, "$filter=riskScore in ('High', 'Critical')", &["'Critical' is not a valid value of riskScore"]),
        (m, "$filter=computerDnsName.length eq 1", &["property 'computerDnsName.length' does not exist"]),
    ]
}

#[test]
fn invalid_queries_are_rejected_with_precise_messages() {
    let cases = cases();
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for (schema, raw, needles) in &cases {
        match parse_query(raw, schema) {
            Ok(q) => failures.push(format!("{raw}: accepted as {q:?}")),
            Err(e) => {
                assert_eq!(e.to_string(), e.message);
                if !e.message.starts_with(MESSAGE_PREFIX) {
                    failures.push(format!("{raw}: missing prefix: {}", e.message));
                }
                for n in needles.iter() {
                    if !e.message.contains(n) {
                        failures.push(format!("{raw}:\n  message: {}\n  missing: {n}", e.message));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
