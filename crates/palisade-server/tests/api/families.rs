//! The family descriptor, judged from outside: a toy family declared in this file (a domain
//! descriptor, a route module, its OpenAPI operations) and registered with one line of
//! configuration is routed, documented, rate limited, loadable and exported like a built-in one,
//! and its role is one apps may hold.
//! The registries' own completeness (every table, data kind, limit, role and path word owned by
//! exactly one family; every route documented) is held by the unit tests of
//! `palisade_domain::family`, `palisade_server::families` and `palisade_server::openapi`.

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use palisade_domain::control::data::{self, DataKind};
use palisade_domain::control::ratelimit::api;
use palisade_domain::family::Family;
use palisade_error::ApiError;
use palisade_model::schemas::EntityTable;
use palisade_odata::{EntitySchema, PropType, Property};
use palisade_server::api::list_response;
use palisade_server::extract::{Caller, Origin};
use palisade_server::families::RouteFamily;
use palisade_server::openapi::{Answer, Input, Operation};
use palisade_server::routing::Routes;
use palisade_server::state::AppState;
use palisade_testkit::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

// --- The toy family's model: one entity, its schema and table. ---

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Toy {
    id: String,
    name: String,
}

const fn text(name: &'static str, column: &'static str) -> Property {
    Property {
        name,
        ty: PropType::String,
        filterable: true,
        sortable: true,
        column: Some(column),
        json_key: name,
    }
}

static TOYS: EntitySchema = EntitySchema {
    entity: "Toy",
    set: "Toys",
    properties: &[text("id", "id"), text("name", "name")],
    expandable: &[],
    max_top: 10_000,
    key_column: "id",
};

const TOY_TABLE: EntityTable = EntityTable {
    table: "toys",
    schema: &TOYS,
};

const TOY_ROLES: &[&str] = &["Toy.Read.All"];

// --- Its domain descriptor. ---

static TOY_FAMILY: Family = Family {
    name: "toys",
    tables: &[TOY_TABLE],
    data_kinds: &[DataKind {
        name: "toys",
        table: TOY_TABLE,
        canonical: data::canonical::<Toy>,
        links: data::no_links,
        after_store: data::nothing_after,
    }],
    // Three a minute, so the test reaches it quickly.
    limits: &[api("List toys", "GET", "/api/toys", Some(3), None)],
    roles: TOY_ROLES,
    path_words: &["toys"],
};

// --- Its route module and operations. ---

async fn list_toys(
    State(state): State<AppState>,
    Caller(caller): Caller,
    origin: Origin,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_response(&state, &origin, &uri, &TOYS, move |core, query, page_size| {
        caller.require_any(TOY_ROLES)?;
        core.list_page(TOY_TABLE, &caller.tenant_id, query, page_size)
    })
    .await
}

fn toy_routes() -> Routes {
    Routes::new().get("/api/toys", list_toys)
}

fn toy_operations() -> Vec<Operation> {
    vec![Operation {
        method: "get",
        path: "/api/toys",
        tag: "Toys",
        summary: "List toys",
        roles: TOY_ROLES,
        input: Input::ListOptions(&TOYS),
        status: 200,
        answer: Answer::Collection(&TOYS),
    }]
}

static TOY: RouteFamily = RouteFamily {
    family: &TOY_FAMILY,
    routes: toy_routes,
    operations: toy_operations,
};

#[tokio::test]
async fn a_toy_family_in_one_line_is_routed_documented_limited_loaded_and_exported() {
    // The one line.
    let app = TestApp::spawn_with(|config| config.extra_families.push(&TOY)).await;
    // Its role is an application role: the development app holds it, and apps may be given it.
    let token = app.token().await;
    app.register_app(TOY_ROLES).await;
    app.freeze_clock().await;

    // Loadable: the loader takes its data kind, checks entities against its type, and counts them.
    let data_path = format!("/_palisade/tenants/{TENANT}/data");
    let load = |body: Value| app.admin_post(&data_path, body);
    let refused = load(json!({"toys": [{"id": "t1", "name": "Teddy", "colour": "brown"}]})).await;
    expect_error(&app, refused, 400, "InvalidRequestBody", &["toys[0]", "colour"]).await;
    let loaded = load(json!({"toys": [{"id": "t1", "name": "Teddy"}, {"id": "t2", "name": "Yo-yo"}]})).await;
    assert_eq!(loaded.status(), StatusCode::OK);
    let counts: Value = loaded.json().await.unwrap();
    assert_eq!(counts["toys"], 2, "{counts}");

    // Routed, with its words normalised (call 1 of the 3 a minute) and its role checked (call 2:
    // the minted tokens are the same app's, and a refused call still counts).
    let listed = app.get_ok("/API/v1.0/Toys?$filter=name eq 'Yo-yo'", &token).await;
    let ids: Vec<&Value> = values(&listed).iter().map(|toy| &toy["id"]).collect();
    assert_eq!(ids, [&json!("t2")], "{listed}");
    let machines_only = app.mint(json!({"roles": ["Machine.Read.All"]})).await;
    let forbidden = app.get("/api/toys", &machines_only).await;
    expect_error(&app, forbidden, 403, "Forbidden", &["Toy.Read.All"]).await;

    // Exported, in the shape the loader takes.
    let exported = app
        .get_json(&format!("{}/_palisade/tenants/{TENANT}/export", app.http))
        .await;
    assert_eq!(
        exported["toys"],
        json!([{"id": "t1", "name": "Teddy"}, {"id": "t2", "name": "Yo-yo"}])
    );

    // Documented.
    let document = app.get_json(&format!("{}/openapi.json", app.http)).await;
    let operation = &document["paths"]["/api/toys"]["get"];
    assert_eq!(operation["summary"], "List toys", "{operation}");
    assert!(document["components"]["schemas"]["Toy"].is_object());

    // Rate limited: its own table entry, listed by the admin API, trips on the fourth call.
    let limits = app.get_json(&format!("{}/_palisade/ratelimits", app.http)).await;
    assert!(
        limits["limits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["api"] == "List toys"),
        "{limits}"
    );
    assert_eq!(app.get("/api/toys", &token).await.status(), StatusCode::OK);
    let throttled = app.get("/api/toys", &token).await;
    assert_eq!(throttled.headers()["retry-after"], "60");
    expect_error(
        &app,
        throttled,
        429,
        "TooManyRequests",
        &["maximum allowed 3 per 00:01:00", "List toys (GET /api/toys)"],
    )
    .await;
}

/// Without the line, none of it exists: the registries really are read from the families.
#[tokio::test]
async fn without_its_line_the_toy_family_is_nowhere() {
    let app = TestApp::spawn().await;
    let token = app.mint(json!({"roles": TOY_ROLES})).await;
    let unrouted = app.get("/api/toys", &token).await;
    expect_error(&app, unrouted, 404, "NotFound", &["/api/toys"]).await;
    let refused = app
        .admin_post(
            &format!("/_palisade/tenants/{TENANT}/data"),
            json!({"toys": [{"id": "t1", "name": "Teddy"}]}),
        )
        .await;
    expect_error(&app, refused, 400, "InvalidRequestBody", &["unknown kind 'toys'"]).await;
    let document = app.get_json(&format!("{}/openapi.json", app.http)).await;
    assert!(document["paths"].get("/api/toys").is_none());
    let exported = app
        .get_json(&format!("{}/_palisade/tenants/{TENANT}/export", app.http))
        .await;
    assert!(exported.get("toys").is_none());
    let role_refused = app
        .admin_post(
            &format!("/_palisade/tenants/{TENANT}/apps"),
            json!({"displayName": "toy app", "roles": TOY_ROLES}),
        )
        .await;
    expect_error(&app, role_refused, 400, "InvalidInput", &["Toy.Read.All"]).await;
}
