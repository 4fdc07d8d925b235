//! Parser, validation, SQL and evaluation tests for every supported form.

mod common;

use common::{enc, ALERT, ITEMS, MACHINE};
use palisade_odata::*;
use serde_json::json;

fn query(raw: &str) -> Query {
    parse_query(raw, &MACHINE).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn filter(f: &str) -> Expr {
    filter_on(&MACHINE, f)
}

fn filter_on(schema: &EntitySchema, f: &str) -> Expr {
    let raw = format!("$filter={}", enc(f));
    parse_query(&raw, schema)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .filter
        .expect("filter")
}

fn prop(name: &str) -> &'static Property {
    MACHINE.property(name).expect("property")
}

fn cmp(name: &str, op: CmpOp, right: Literal) -> Expr {
    Expr::Compare {
        left: Operand::Property(prop(name)),
        op,
        right,
    }
}

fn text(s: &str) -> Literal {
    Literal::Text(s.to_string())
}

fn sqlite(e: &Expr) -> SqlFragment {
    filter_sql(e, Dialect::Sqlite, 2)
}

fn pg(e: &Expr) -> SqlFragment {
    filter_sql(e, Dialect::Postgres, 2)
}

#[test]
fn schemas_are_consistent() {
    MACHINE.check().unwrap();
    ALERT.check().unwrap();
    ITEMS.check().unwrap();
}

#[test]
fn all_comparison_operators() {
    for (kw, op) in [
        ("eq", CmpOp::Eq),
        ("ne", CmpOp::Ne),
        ("gt", CmpOp::Gt),
        ("ge", CmpOp::Ge),
        ("lt", CmpOp::Lt),
        ("le", CmpOp::Le),
    ] {
        assert_eq!(
            filter(&format!("rbacGroupId {kw} 5")),
            cmp("rbacGroupId", op, Literal::Int(5))
        );
        // Keywords are accepted in any case.
        assert_eq!(
            filter(&format!("rbacGroupId {} 5", kw.to_uppercase())),
            cmp("rbacGroupId", op, Literal::Int(5))
        );
    }
}

#[test]
fn literal_on_the_left_is_swapped() {
    assert_eq!(
        filter("5 lt rbacGroupId"),
        cmp("rbacGroupId", CmpOp::Gt, Literal::Int(5))
    );
    assert_eq!(
        filter("'x' eq computerDnsName"),
        cmp("computerDnsName", CmpOp::Eq, text("x"))
    );
}

#[test]
fn logical_operators_and_precedence() {
    let a = cmp("rbacGroupId", CmpOp::Eq, Literal::Int(1));
    let b = cmp("rbacGroupId", CmpOp::Eq, Literal::Int(2));
    let c = cmp("rbacGroupId", CmpOp::Eq, Literal::Int(3));
    assert_eq!(
        filter("rbacGroupId eq 1 or rbacGroupId eq 2 and rbacGroupId eq 3"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        filter("(rbacGroupId eq 1 or rbacGroupId eq 2) and rbacGroupId eq 3"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        filter("not rbacGroupId eq 1 and rbacGroupId eq 2"),
        Expr::And(vec![Expr::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(
        filter("not (rbacGroupId eq 1 or rbacGroupId eq 2)"),
        Expr::Not(Box::new(Expr::Or(vec![a.clone(), b.clone()])))
    );
    assert_eq!(
        filter("rbacGroupId eq 1 AND rbacGroupId eq 2 OR NOT rbacGroupId eq 3"),
        Expr::Or(vec![
            Expr::And(vec![a.clone(), b.clone()]),
            Expr::Not(Box::new(c.clone()))
        ])
    );
    assert_eq!(filter("((rbacGroupId eq 1))"), a);
    assert_eq!(filter("(rbacGroupId) eq 1"), a);
}

#[test]
fn in_operator() {
    assert_eq!(
        filter("riskScore in ('high', 'Medium')"),
        Expr::In {
            left: Operand::Property(prop("riskScore")),
            values: vec![text("High"), text("Medium")]
        }
    );
    assert_eq!(
        filter("computerDnsName in ('a',null)"),
        Expr::In {
            left: Operand::Property(prop("computerDnsName")),
            values: vec![text("a"), Literal::Null]
        }
    );
}

#[test]
fn string_functions() {
    for (name, func) in [
        ("startswith", StrFunc::StartsWith),
        ("endswith", StrFunc::EndsWith),
        ("contains", StrFunc::Contains),
        ("startsWith", StrFunc::StartsWith),
    ] {
        assert_eq!(
            filter(&format!("{name}(computerDnsName, 'ab%_')")),
            Expr::StrFn {
                func,
                arg: Operand::Property(prop("computerDnsName")),
                pattern: "ab%_".into()
            }
        );
    }
    assert_eq!(
        filter("contains(tolower(computerDnsName),'x')"),
        Expr::StrFn {
            func: StrFunc::Contains,
            arg: Operand::ToLower(Box::new(Operand::Property(prop("computerDnsName")))),
            pattern: "x".into()
        }
    );
    assert_eq!(
        filter("toupper(computerDnsName) eq 'X'"),
        Expr::Compare {
            left: Operand::ToUpper(Box::new(Operand::Property(prop("computerDnsName")))),
            op: CmpOp::Eq,
            right: text("X")
        }
    );
    assert_eq!(
        filter("tolower(toupper(computerDnsName)) ne 'x'"),
        Expr::Compare {
            left: Operand::ToLower(Box::new(Operand::ToUpper(Box::new(Operand::Property(prop(
                "computerDnsName"
            )))))),
            op: CmpOp::Ne,
            right: text("x")
        }
    );
    let sw = filter("startswith(computerDnsName,'a')");
    assert_eq!(filter("startswith(computerDnsName,'a') eq true"), sw);
    assert_eq!(
        filter("startswith(computerDnsName,'a') eq false"),
        Expr::Not(Box::new(sw.clone()))
    );
    assert_eq!(filter("false ne startswith(computerDnsName,'a')"), sw.clone());
}

#[test]
fn lambdas() {
    let tags = prop("machineTags");
    let var_eq = |s: &str| Expr::Compare {
        left: Operand::LambdaVar,
        op: CmpOp::Eq,
        right: text(s),
    };
    assert_eq!(
        filter("machineTags/any(tag: tag eq 'x')"),
        Expr::Lambda {
            collection: tags,
            kind: LambdaKind::Any,
            var: "tag".into(),
            body: Some(Box::new(var_eq("x")))
        }
    );
    assert_eq!(
        filter("MachineTags/ALL(t: t ne 'x')"),
        Expr::Lambda {
            collection: tags,
            kind: LambdaKind::All,
            var: "t".into(),
            body: Some(Box::new(Expr::Compare {
                left: Operand::LambdaVar,
                op: CmpOp::Ne,
                right: text("x")
            }))
        }
    );
    assert_eq!(
        filter("machineTags/any()"),
        Expr::Lambda {
            collection: tags,
            kind: LambdaKind::Any,
            var: String::new(),
            body: None
        }
    );
    for body in [
        "t gt 'a'",
        "startswith(t, 'a')",
        "endswith(tolower(t), 'a')",
        "contains(toupper(t), 'A') or t eq null",
        "not (t in ('a', 'b'))",
        "tolower(t) le 'z'",
    ] {
        filter(&format!("machineTags/any(t: {body})"));
        filter(&format!("machineTags/all(t: {body})"));
    }
}

#[test]
fn literal_forms() {
    let day = parse_datetime("2019-11-22T00:00:00Z").unwrap();
    for lit in [
        "2019-11-22T00:00:00Z",
        "2019-11-22T00:00:00.0000000Z",
        "2019-11-22T02:00:00+02:00",
        "2019-11-21T19:00:00-05:00",
        "2019-11-22Z",
        "2019-11-22",
        "2019-11-22T00:00",
    ] {
        assert_eq!(
            filter(&format!("lastSeen gt {lit}")),
            cmp("lastSeen", CmpOp::Gt, Literal::DateTime(day)),
            "{lit}"
        );
    }
    // An unencoded '+' in the offset decodes to a space and is still understood.
    assert_eq!(
        query("$filter=lastSeen+gt+2019-11-22T02:00:00+02:00").filter,
        Some(cmp("lastSeen", CmpOp::Gt, Literal::DateTime(day)))
    );
    assert_eq!(
        filter("lastSeen gt 2019-11-22T00:00:00.1234567Z"),
        cmp("lastSeen", CmpOp::Gt, Literal::DateTime(day + 123_456))
    );
    assert_eq!(
        filter("rbacGroupId eq -12"),
        cmp("rbacGroupId", CmpOp::Eq, Literal::Int(-12))
    );
    assert_eq!(
        filter("isAadJoined eq TRUE"),
        cmp("isAadJoined", CmpOp::Eq, Literal::Bool(true))
    );
    assert_eq!(
        filter("isAadJoined"),
        cmp("isAadJoined", CmpOp::Eq, Literal::Bool(true))
    );
    assert_eq!(
        filter("computerDnsName eq null"),
        cmp("computerDnsName", CmpOp::Eq, Literal::Null)
    );
    assert_eq!(
        filter("computerDnsName eq 'it''s'"),
        cmp("computerDnsName", CmpOp::Eq, text("it's"))
    );
    assert_eq!(
        filter("computerDnsName eq ''"),
        cmp("computerDnsName", CmpOp::Eq, text(""))
    );
    let guid = "8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3";
    for lit in [guid.to_string(), guid.to_uppercase(), format!("'{guid}'")] {
        assert_eq!(
            filter(&format!("aadDeviceId eq {lit}")),
            cmp("aadDeviceId", CmpOp::Eq, text(guid))
        );
    }
    assert_eq!(filter("riskScore eq 'HIGH'"), cmp("riskScore", CmpOp::Eq, text("High")));
    assert_eq!(
        filter("computerDnsName eq 'ä €'"),
        cmp("computerDnsName", CmpOp::Eq, text("ä €"))
    );
}

#[test]
fn decimals_parse_but_do_not_match_int() {
    let e = parse_query("$filter=rbacGroupId eq 1.5", &MACHINE).unwrap_err();
    assert!(e.message.contains("'1.5' is a decimal number"), "{e}");
    let e = parse_query("$filter=rbacGroupId eq -2.5e3", &MACHINE).unwrap_err();
    assert!(e.message.contains("'-2.5e3'"), "{e}");
}

#[test]
fn options() {
    let q = query("$orderby=lastSeen desc,ComputerDnsName&$select=id,ComputerDnsName,id&$top=5&$skip=10&$count=true&tag=a+b&x=%26");
    assert_eq!(q.orderby.len(), 2);
    assert_eq!(q.orderby[0].property.name, "lastSeen");
    assert!(q.orderby[0].descending);
    assert_eq!(q.orderby[1].property.name, "computerDnsName");
    assert!(!q.orderby[1].descending);
    assert_eq!(q.select, Some(vec!["id", "computerDnsName"]));
    assert_eq!(q.top, Some(5));
    assert_eq!(q.skip, 10);
    assert!(q.count);
    assert_eq!(
        q.other_params,
        vec![("tag".into(), "a b".into()), ("x".into(), "&".into())]
    );
    let q = query("?$TOP=0&$Count=FALSE&$orderby=riskScore%20asc&$select=*");
    assert_eq!(q.top, Some(0));
    assert!(!q.count);
    assert_eq!(q.select, None);
    assert_eq!(q.orderby[0].property.name, "riskScore");
    let q = query("");
    assert_eq!(q, Query::default());
    let q = query("%24filter=rbacGroupId%20eq%201");
    assert!(q.filter.is_some());
    let q = parse_query("$expand=Evidence,evidence", &ALERT).unwrap();
    assert_eq!(q.expand, vec!["evidence"]);
    let q = parse_query("$expand=*", &ALERT).unwrap();
    assert_eq!(q.expand, vec!["evidence"]);
    assert_eq!(query("$top=10000").top, Some(10000));
}

#[test]
fn sql_comparisons() {
    let e = filter("computerDnsName eq 'a'");
    assert_eq!(sqlite(&e).sql, "(computer_dns_name = ?2)");
    assert_eq!(sqlite(&e).params, vec![SqlValue::Text("a".into())]);
    assert_eq!(pg(&e).sql, "(computer_dns_name = $2)");
    let e = filter("computerDnsName ne 'a'");
    assert_eq!(sqlite(&e).sql, "(computer_dns_name IS NOT ?2)");
    assert_eq!(pg(&e).sql, "(computer_dns_name IS DISTINCT FROM $2)");
    let e = filter("not (computerDnsName gt 'a')");
    assert_eq!(
        sqlite(&e).sql,
        "((computer_dns_name IS NULL OR computer_dns_name <= ?2))"
    );
    assert_eq!(
        pg(&e).sql,
        "((computer_dns_name IS NULL OR computer_dns_name COLLATE \"C\" <= $2))"
    );
    let e = filter("computerDnsName eq null or not (lastSeen eq null)");
    assert_eq!(sqlite(&e).sql, "((computer_dns_name IS NULL OR last_seen IS NOT NULL))");
    let e = filter("not (rbacGroupId eq 1 and isAadJoined eq true)");
    assert_eq!(sqlite(&e).sql, "((rbac_group_id IS NOT ?2 OR is_aad_joined IS NOT ?3))");
    assert_eq!(sqlite(&e).params, vec![SqlValue::Int(1), SqlValue::Int(1)]);
    let e = filter("lastSeen ge 1970-01-01T00:00:01Z");
    assert_eq!(sqlite(&e).params, vec![SqlValue::Int(1_000_000)]);
}

#[test]
fn sql_enums_compare_by_declaration_order() {
    let e = filter("riskScore gt 'low'");
    assert_eq!(sqlite(&e).sql, "(risk_score IN (?2, ?3))");
    assert_eq!(
        sqlite(&e).params,
        vec![SqlValue::Text("Medium".into()), SqlValue::Text("High".into())]
    );
    let e = filter("riskScore gt 'High'");
    assert_eq!(sqlite(&e).sql, "(1 = 0)");
    let e = filter("not (riskScore lt 'Low')");
    assert_eq!(sqlite(&e).sql, "((risk_score IS NULL OR risk_score NOT IN (?2, ?3)))");
    let q = query("$orderby=riskScore desc");
    assert_eq!(
        q.order_by_sql(&MACHINE, Dialect::Sqlite),
        "risk_score IS NULL ASC, CASE risk_score WHEN 'None' THEN 0 WHEN 'Informational' \
         THEN 1 WHEN 'Low' THEN 2 WHEN 'Medium' THEN 3 WHEN 'High' THEN 4 END DESC, id ASC"
    );
}

#[test]
fn sql_in_lists() {
    let e = filter("computerDnsName in ('a', null)");
    assert_eq!(
        sqlite(&e).sql,
        "((computer_dns_name IS NULL OR computer_dns_name IN (?2)))"
    );
    let e = filter("not (computerDnsName in ('a', 'b'))");
    assert_eq!(
        sqlite(&e).sql,
        "((computer_dns_name IS NULL OR computer_dns_name NOT IN (?2, ?3)))"
    );
}

#[test]
fn sql_string_functions_are_literal_and_case_sensitive() {
    let e = filter("startswith(computerDnsName, '%_') and endswith(computerDnsName, 'x') and contains(tolower(computerDnsName), 'y')");
    let s = sqlite(&e);
    assert_eq!(
        s.sql,
        "((substr(computer_dns_name, 1, length(?2)) = ?2 AND substr(computer_dns_name, \
         -length(?3)) = ?3 AND instr(lower(computer_dns_name), ?4) > 0))"
    );
    assert!(!s.sql.contains("LIKE"));
    assert_eq!(s.params.len(), 3);
    let p = pg(&e);
    assert_eq!(
        p.sql,
        "((left(computer_dns_name, char_length($2::text)) = $2::text AND \
         right(computer_dns_name, char_length($3::text)) = $3::text AND \
         strpos(lower(computer_dns_name COLLATE \"C\"), $4::text) > 0))"
    );
    let e = filter("not contains(computerDnsName, 'a')");
    assert_eq!(
        sqlite(&e).sql,
        "((computer_dns_name IS NULL OR NOT (instr(computer_dns_name, ?2) > 0)))"
    );
    let e = filter("contains(computerDnsName, '')");
    assert_eq!(sqlite(&e).sql, "(computer_dns_name IS NOT NULL)");
    assert!(sqlite(&e).params.is_empty());
}

#[test]
fn sql_lambdas() {
    let e = filter("machineTags/any(t: t eq 'x')");
    assert_eq!(
        sqlite(&e).sql,
        "(EXISTS (SELECT 1 FROM json_each(doc, '$.machineTags') WHERE json_type(doc, \
         '$.machineTags') = 'array' AND (value = ?2)))"
    );
    assert_eq!(
        pg(&e).sql,
        "(EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN \
         jsonb_typeof(doc::jsonb -> 'machineTags') = 'array' THEN doc::jsonb -> \
         'machineTags' END) AS e(value) WHERE (value = $2)))"
    );
    let e = filter("machineTags/all(t: startswith(t, 'a'))");
    assert_eq!(
        sqlite(&e).sql,
        "(NOT EXISTS (SELECT 1 FROM json_each(doc, '$.machineTags') WHERE json_type(doc, \
         '$.machineTags') = 'array' AND ((value IS NULL OR NOT (substr(value, 1, length(?2)) \
         = ?2)))))"
    );
    let e = filter("not machineTags/any()");
    assert_eq!(
        sqlite(&e).sql,
        "(NOT EXISTS (SELECT 1 FROM json_each(doc, '$.machineTags') WHERE json_type(doc, \
         '$.machineTags') = 'array'))"
    );
    let e = filter("machineTags/any(t: t eq 'x') and rbacGroupId eq 3");
    let s = filter_sql(&e, Dialect::Sqlite, 5);
    assert!(
        s.sql.contains("value = ?5") && s.sql.contains("rbac_group_id = ?6"),
        "{}",
        s.sql
    );
}

#[test]
fn order_by() {
    let q = query("$orderby=lastSeen desc,computerDnsName");
    assert_eq!(
        q.order_by_sql(&MACHINE, Dialect::Sqlite),
        "last_seen IS NULL ASC, last_seen DESC, computer_dns_name IS NULL DESC, \
         computer_dns_name ASC, id ASC"
    );
    assert_eq!(
        q.order_by_sql(&MACHINE, Dialect::Postgres),
        "last_seen IS NULL ASC, last_seen DESC, computer_dns_name IS NULL DESC, \
         computer_dns_name COLLATE \"C\" ASC, id COLLATE \"C\" ASC"
    );
    let q = query("$orderby=id desc");
    assert_eq!(q.order_by_sql(&MACHINE, Dialect::Sqlite), "id IS NULL ASC, id DESC");
    assert_eq!(Query::default().order_by_sql(&MACHINE, Dialect::Sqlite), "id ASC");
}

#[test]
fn where_sql_without_filter_is_none() {
    assert!(query("$top=1").where_sql(&MACHINE, Dialect::Sqlite, 2).is_none());
}

#[test]
fn evaluation() {
    let m = |doc: serde_json::Value, f: &str| matches(&filter(f), &doc, &MACHINE);
    let doc = json!({
        "id": "m1", "computerDnsName": "Host-1.Contoso", "riskScore": "high",
        "lastSeen": "2021-01-26T20:33:57.7220239Z", "rbacGroupId": 7,
        "aadDeviceId": "8E6A1F2B-0C3D-4E5F-A6B7-C8D9E0F1A2B3", "isAadJoined": false,
        "machineTags": ["prod", "EU", null]
    });
    assert!(m(doc.clone(), "riskScore eq 'High'"));
    assert!(m(doc.clone(), "riskScore gt 'Medium'"));
    assert!(!m(doc.clone(), "riskScore lt 'Medium'"));
    assert!(m(doc.clone(), "lastSeen eq 2021-01-26T20:33:57.722023Z"));
    assert!(m(doc.clone(), "lastSeen gt 2021-01-26T22:00:00+02:00"));
    assert!(m(doc.clone(), "rbacGroupId ge 7 and rbacGroupId lt 8"));
    assert!(m(doc.clone(), "aadDeviceId eq 8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3"));
    assert!(m(doc.clone(), "not isAadJoined"));
    assert!(m(doc.clone(), "startswith(computerDnsName, 'Host')"));
    assert!(!m(doc.clone(), "startswith(computerDnsName, 'host')"));
    assert!(m(doc.clone(), "startswith(tolower(computerDnsName), 'host')"));
    assert!(m(doc.clone(), "machineTags/any(t: t eq 'EU')"));
    assert!(m(doc.clone(), "machineTags/any(t: t eq null)"));
    assert!(!m(doc.clone(), "machineTags/all(t: t ne null)"));
    assert!(m(doc.clone(), "machineTags/any()"));
    // Null semantics: ne includes missing values, ordering comparisons exclude them.
    assert!(m(doc.clone(), "version ne '1'"));
    assert!(!m(doc.clone(), "version gt '1'"));
    assert!(m(doc.clone(), "not (version gt '1')"));
    assert!(m(doc.clone(), "version eq null"));
    let empty = json!({"id": "m2", "machineTags": []});
    assert!(!m(empty.clone(), "machineTags/any()"));
    assert!(m(empty.clone(), "machineTags/all(t: t eq 'x')"));
}

#[test]
fn ordering_and_paging_in_memory() {
    let docs = [
        json!({"id": "c", "riskScore": "Low"}),
        json!({"id": "a"}),
        json!({"id": "b", "riskScore": "High"}),
        json!({"id": "d", "riskScore": "low"}),
    ];
    let ids = |raw: &str| -> Vec<String> {
        let q = query(raw);
        q.evaluate(&MACHINE, docs.iter())
            .0
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("$orderby=riskScore"), ["a", "c", "d", "b"]);
    assert_eq!(ids("$orderby=riskScore desc"), ["b", "c", "d", "a"]);
    assert_eq!(ids("$orderby=riskScore desc&$skip=1&$top=2"), ["c", "d"]);
    assert_eq!(ids(""), ["a", "b", "c", "d"]);
    let q = query("$filter=riskScore eq 'low'&$top=1");
    let (page, total) = q.evaluate(&MACHINE, docs.iter());
    assert_eq!((page.len(), total), (1, 2));
}

#[test]
fn select_projection() {
    let q = query("$select=computerDnsName,id");
    let doc = json!({"id": "m1", "computerDnsName": "x", "riskScore": "High"});
    assert_eq!(
        q.apply_select(&MACHINE, &doc),
        json!({"id": "m1", "computerDnsName": "x"})
    );
    assert_eq!(query("").apply_select(&MACHINE, &doc), doc);
}

#[test]
fn column_encodings() {
    let doc = json!({
        "id": "m1", "riskScore": "HIGH", "lastSeen": "1970-01-01T00:00:01.5Z",
        "isAadJoined": true, "rbacGroupId": 3, "aadDeviceId": "ABCDEF12-0000-0000-0000-000000000000",
        "healthStatus": "Bogus", "version": 12
    });
    let v = |name: &str| column_value(prop(name), &doc);
    assert_eq!(v("riskScore"), SqlValue::Text("High".into()));
    assert_eq!(v("lastSeen"), SqlValue::Int(1_500_000));
    assert_eq!(v("isAadJoined"), SqlValue::Int(1));
    assert_eq!(v("rbacGroupId"), SqlValue::Int(3));
    assert_eq!(
        v("aadDeviceId"),
        SqlValue::Text("abcdef12-0000-0000-0000-000000000000".into())
    );
    assert_eq!(v("healthStatus"), SqlValue::Null);
    assert_eq!(v("version"), SqlValue::Null);
    assert_eq!(v("firstSeen"), SqlValue::Null);
    assert_eq!(v("machineTags"), SqlValue::Null);
    let cols = column_values(&MACHINE, &doc);
    assert_eq!(cols.len(), 13);
    assert_eq!(cols[0], ("id", SqlValue::Text("m1".into())));
}

#[test]
fn display_round_trips() {
    for f in [
        "riskScore eq 'High' and (lastSeen gt 2019-11-22T00:00:00.5Z or not (rbacGroupId le -3))",
        "machineTags/any(x: startswith(tolower(x), 'a''b') or x in ('c', null))",
        "computerDnsName ne null and aadDeviceId eq '8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3'",
        "machineTags/any()",
        "(isAadJoined eq false and isAadJoined ne true) and not (contains(computerDnsName, 'x'))",
    ] {
        let e = filter(f);
        let shown = e.to_string();
        assert_eq!(filter(&shown), e, "{f} -> {shown}");
    }
}
