use super::*;

/// The contract's table, restated independently of the macro so a typo in either fails here.
const CONTRACT: &[(&str, u16)] = &[
    ("BadRequest", 400),
    ("ODataError", 400),
    ("InvalidInput", 400),
    ("InvalidRequestBody", 400),
    ("InvalidHashValue", 400),
    ("InvalidDomainName", 400),
    ("InvalidIpAddress", 400),
    ("InvalidUrl", 400),
    ("MaximumBatchSizeExceeded", 400),
    ("MissingRequiredParameter", 400),
    ("OsPlatformNotSupported", 400),
    ("ClientVersionNotSupported", 400),
    ("ActiveRequestAlreadyExists", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("DisabledFeature", 403),
    ("DisallowedOperation", 403),
    ("NotFound", 404),
    ("ResourceNotFound", 404),
    ("TooManyRequests", 429),
    ("InternalServerError", 500),
    // Our two HTTP-protocol decisions.
    ("MethodNotAllowed", 405),
    ("PayloadTooLarge", 413),
];

#[test]
fn every_contract_code_exists_with_its_status() {
    for (name, status) in CONTRACT {
        let code = ErrorCode::parse(name).unwrap_or_else(|| panic!("{name} missing from the catalogue"));
        assert_eq!(code.status(), *status, "{name}");
        assert_eq!(code.as_str(), *name);
        assert!(!code.message_shape().is_empty());
    }
    assert_eq!(
        ErrorCode::ALL.len(),
        CONTRACT.len(),
        "catalogue has codes the contract test does not know"
    );
}

#[test]
fn every_code_round_trips_through_the_envelope() {
    for code in ErrorCode::ALL {
        let err = ApiError::new(*code, format!("message for {code}"), "cause");
        let target = new_target();
        let json = serde_json::to_value(err.envelope(&target)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": code.as_str(), "message": format!("message for {code}"), "target": target}})
        );
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back.error.code, *code);
        assert_eq!(back.error.target, target);
    }
}

#[test]
fn envelope_never_carries_the_internal_cause() {
    let err = ApiError::internal("database is locked at store.rs:42");
    let text = serde_json::to_string(&err.envelope("t")).unwrap();
    assert!(!text.contains("database"), "{text}");
}

#[test]
fn unknown_code_does_not_deserialize() {
    let r: Result<Envelope, _> = serde_json::from_str(r#"{"error":{"code":"Teapot","message":"m","target":"t"}}"#);
    assert!(r.is_err());
}

#[test]
fn targets_are_fresh_lower_case_uuids() {
    let a = new_target();
    let b = new_target();
    assert_ne!(a, b);
    for t in [&a, &b] {
        assert_eq!(t.len(), 36);
        assert_eq!(t, &t.to_lowercase());
        assert!(uuid::Uuid::parse_str(t).is_ok());
    }
}

#[test]
fn constructors_name_the_offending_value() {
    let cases = [
        (
            ApiError::invalid_hash("abc"),
            ErrorCode::InvalidHashValue,
            "Hash value abc is invalid",
        ),
        (
            ApiError::invalid_domain("a..b"),
            ErrorCode::InvalidDomainName,
            "Domain name a..b is invalid",
        ),
        (
            ApiError::invalid_ip("1.2.3"),
            ErrorCode::InvalidIpAddress,
            "IP address 1.2.3 is invalid",
        ),
        (
            ApiError::invalid_url("ftp:x"),
            ErrorCode::InvalidUrl,
            "URL ftp:x is invalid",
        ),
        (
            ApiError::batch_too_large(501, 500),
            ErrorCode::MaximumBatchSizeExceeded,
            "Maximum batch size exceeded. Received: 501, allowed: 500",
        ),
        (
            ApiError::missing_parameter("Comment", None),
            ErrorCode::MissingRequiredParameter,
            "Parameter Comment is missing",
        ),
        (
            ApiError::resource_not_found("Machine", "123"),
            ErrorCode::ResourceNotFound,
            "Machine 123 was not found",
        ),
        (
            ApiError::odata("bad"),
            ErrorCode::ODataError,
            "Invalid OData URI query: bad",
        ),
        (
            ApiError::invalid_input("Action 'Foo'", "enum"),
            ErrorCode::InvalidInput,
            "Invalid input Action 'Foo'",
        ),
    ];
    for (err, code, message) in cases {
        assert_eq!(err.code, code);
        assert_eq!(err.message, message);
    }
    let f = ApiError::forbidden(&["Machine.Read.All", "Machine.ReadWrite.All"], &[]);
    assert_eq!(f.code.status(), 403);
    assert!(
        f.message.contains("Machine.Read.All, Machine.ReadWrite.All"),
        "{}",
        f.message
    );
}

#[cfg(feature = "axum")]
#[test]
fn response_has_status_json_body_and_journal_entry() {
    use axum::response::IntoResponse;
    let response = ApiError::too_many_requests(100, "00:01:00", 42, "rate limit").into_response();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "42");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let entry = response.extensions().get::<JournalEntry>().expect("journal entry");
    assert_eq!(entry.code, "TooManyRequests");
    assert_eq!(entry.cause, "rate limit");
}
