//! Each API family's routes and OpenAPI operations, paired with its domain descriptor
//! ([`palisade_domain::family::Family`]: tables, data kinds, rate limits, roles, path words). The
//! router and the document are built from [`FAMILIES`] plus the configuration's
//! `extra_families` (how a test adds a toy family in one line), so adding a family is a domain
//! module, a route module and one line in each list.
//!
//! The built-in families' operations are still rows of the one table in [`crate::openapi`]
//! (`operations: none`); an added family brings its own. Either way a test holds every routed
//! path against the document in both directions, and every literal word of an API route
//! against the families' path words.

use crate::api::{mde, xdr};
use crate::openapi::Operation;
use crate::routing::Routes;
use palisade_domain::family::{self, Family};

/// One family as the server serves it.
#[derive(Debug)]
pub struct RouteFamily {
    pub family: &'static Family,
    /// Its routes (authentication, rate limits and fault rules are layered on by the caller).
    pub routes: fn() -> Routes,
    /// Its OpenAPI operations, when they are not rows of the main table.
    pub operations: fn() -> Vec<Operation>,
}

/// No operations beyond the main table's rows.
pub fn none() -> Vec<Operation> {
    Vec::new()
}

/// No routes (yet).
pub fn no_routes() -> Routes {
    Routes::new()
}

/// Every built-in family, in the order of `palisade_domain::family::FAMILIES`.
pub const FAMILIES: &[RouteFamily] = &[
    RouteFamily {
        family: &family::MACHINES,
        routes: mde::machines::router,
        operations: none,
    },
    RouteFamily {
        family: &family::ALERTS,
        routes: mde::alerts::router,
        operations: none,
    },
    RouteFamily {
        family: &family::MACHINE_ACTIONS,
        routes: mde::actions::router,
        operations: none,
    },
    RouteFamily {
        family: &family::INVESTIGATIONS,
        routes: mde::investigations::router,
        operations: none,
    },
    RouteFamily {
        family: &family::USERS,
        routes: mde::users::router,
        operations: none,
    },
    RouteFamily {
        family: &family::INDICATORS,
        routes: mde::indicators::router,
        operations: none,
    },
    RouteFamily {
        family: &family::LOOKUPS,
        routes: mde::lookups::router,
        operations: none,
    },
    RouteFamily {
        family: &family::LIBRARY,
        routes: mde::library::router,
        operations: none,
    },
    RouteFamily {
        family: &family::INCIDENTS,
        routes: xdr::incidents::router,
        operations: none,
    },
    RouteFamily {
        family: &family::HUNTING,
        routes: xdr::hunting::router,
        operations: none,
    },
    // Graph's routes need Graph's authentication, not the Defender one every route listed here
    // gets: `crate::routes` mounts `api::graph::router` under it. Its words are checked below.
    RouteFamily {
        family: &palisade_domain::graph::FAMILY,
        routes: no_routes,
        operations: none,
    },
];

/// The built-in families, then `extra`.
pub fn all<'a>(extra: &'a [&'static RouteFamily]) -> impl Iterator<Item = &'static RouteFamily> + 'a {
    FAMILIES.iter().chain(extra.iter().copied())
}

/// Every family's API routes.
pub fn routes(extra: &[&'static RouteFamily]) -> Routes {
    all(extra).fold(Routes::new(), |routes, family| routes.merge((family.routes)()))
}

/// The added families' own operations (the built-in ones are rows of the main table).
pub fn operations(extra: &[&'static RouteFamily]) -> Vec<Operation> {
    all(extra).flat_map(|family| (family.operations)()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server pairs every domain family with its routes, once, in the same order.
    #[test]
    fn every_domain_family_has_its_routes() {
        let served: Vec<&str> = FAMILIES.iter().map(|f| f.family.name).collect();
        let declared: Vec<&str> = family::FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(served, declared);
    }

    /// Every literal word of every API route is a path word of some family, so clients may send
    /// it in any case: a route whose words no family declares fails here.
    #[test]
    fn every_api_route_word_is_a_family_path_word() {
        let words: Vec<&str> = family::path_words(family::all(&[])).collect();
        let routes = routes(&[]);
        let mut missing = Vec::new();
        for routed in routes.routed() {
            for segment in routed.path.split('/').skip(1) {
                // `findbyip(ip='{ip}',...)`: the function's name is the word.
                let word = segment.split('(').next().unwrap_or(segment);
                if word.is_empty() || word.starts_with('{') {
                    continue;
                }
                if !words.contains(&word) {
                    missing.push(format!("{} {}: {word}", routed.method, routed.path));
                }
            }
        }
        // Graph's routes, mounted apart (see `FAMILIES`), follow the same rule.
        let graph = crate::api::graph::router();
        for routed in graph.routed() {
            for segment in routed.path.split('/').skip(1) {
                if !segment.starts_with('{') && !words.contains(&segment) {
                    missing.push(format!("{} {}: {segment}", routed.method, routed.path));
                }
            }
        }
        assert!(routes.routed().len() > 40);
        assert!(missing.is_empty(), "route words no family declares: {missing:?}");
    }
}
