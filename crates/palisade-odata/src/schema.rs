//! Static description of an entity set, supplied by the caller.

/// The type of a property, which decides literal typing, SQL encoding and evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// Text compared byte-wise (case-sensitive).
    String,
    /// 64-bit signed integer.
    Int,
    /// Boolean.
    Bool,
    /// Instant, compared at microsecond precision.
    DateTime,
    /// GUID, stored and compared in lowercase.
    Guid,
    /// Closed set of names; declaration order is the ordering used by `gt`/`lt`/`$orderby`.
    Enum(&'static [&'static str]),
    /// JSON array of strings, only usable through `any`/`all` lambdas.
    StringCollection,
    /// Nested object: selectable, never filterable or sortable.
    Object,
}

impl PropType {
    /// Human name used in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            PropType::String => "String",
            PropType::Int => "Int",
            PropType::Bool => "Bool",
            PropType::DateTime => "DateTime",
            PropType::Guid => "Guid",
            PropType::Enum(_) => "Enum",
            PropType::StringCollection => "String collection",
            PropType::Object => "Object",
        }
    }
}

/// One property of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    /// Canonical camelCase name, e.g. `computerDnsName`.
    pub name: &'static str,
    /// Type of the property.
    pub ty: PropType,
    /// May appear in `$filter`.
    pub filterable: bool,
    /// May appear in `$orderby`.
    pub sortable: bool,
    /// SQL column for scalars (plain identifier); `None` for collections/objects.
    /// A scalar without a column is treated as neither filterable nor sortable.
    pub column: Option<&'static str>,
    /// Top-level key of the value in the entity's JSON document, usually `== name`.
    pub json_key: &'static str,
}

impl Property {
    /// True for everything but collections and objects.
    pub fn is_scalar(&self) -> bool {
        !matches!(self.ty, PropType::StringCollection | PropType::Object)
    }

    pub(crate) fn can_filter(&self) -> bool {
        self.filterable
            && match self.ty {
                PropType::StringCollection => true,
                PropType::Object => false,
                _ => self.column.is_some(),
            }
    }

    pub(crate) fn can_sort(&self) -> bool {
        self.sortable && self.is_scalar() && self.column.is_some()
    }
}

/// An entity set: its properties and paging limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySchema {
    /// Entity type name used in messages, e.g. `Machine`.
    pub entity: &'static str,
    /// Entity set name, e.g. `Machines`.
    pub set: &'static str,
    /// All properties.
    pub properties: &'static [Property],
    /// Names accepted by `$expand`.
    pub expandable: &'static [&'static str],
    /// Largest accepted `$top`.
    pub max_top: u32,
    /// Unique column appended to every ORDER BY so paging is stable; must be the
    /// column of one of the properties.
    pub key_column: &'static str,
}

impl EntitySchema {
    /// Looks a property up case-insensitively.
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The property whose column is [`EntitySchema::key_column`].
    pub fn key_property(&self) -> Option<&'static Property> {
        self.properties.iter().find(|p| p.column == Some(self.key_column))
    }

    /// Names of the properties usable in `$filter`, sorted for messages.
    pub(crate) fn filterable_names(&self) -> Vec<&'static str> {
        self.sorted_names(|p| p.can_filter())
    }

    pub(crate) fn sortable_names(&self) -> Vec<&'static str> {
        self.sorted_names(|p| p.can_sort())
    }

    pub(crate) fn all_names(&self) -> Vec<&'static str> {
        self.sorted_names(|_| true)
    }

    fn sorted_names(&self, keep: impl Fn(&Property) -> bool) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.properties.iter().filter(|p| keep(p)).map(|p| p.name).collect();
        v.sort_by_key(|n| n.to_ascii_lowercase());
        v
    }

    /// Checks the schema's internal consistency; meant for callers' unit tests.
    ///
    /// Verifies: names unique case-insensitively; columns and JSON keys are plain
    /// identifiers (they are spliced into SQL text); sortable/filterable scalars have a
    /// column; collections/objects are not sortable and have no column; enums are
    /// non-empty with case-insensitively distinct members; the key column belongs to a
    /// sortable scalar property; `max_top` is positive.
    pub fn check(&self) -> Result<(), String> {
        let ident = |s: &str| {
            !s.is_empty()
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        for (i, p) in self.properties.iter().enumerate() {
            if self.properties[..i].iter().any(|q| q.name.eq_ignore_ascii_case(p.name)) {
                return Err(format!("duplicate property name {}", p.name));
            }
            if !ident(p.name) || !ident(p.json_key) {
                return Err(format!("{}: name and json_key must be identifiers", p.name));
            }
            match (p.is_scalar(), p.column) {
                (true, Some(c)) if !ident(c) => return Err(format!("{}: column {c:?} is not an identifier", p.name)),
                (true, None) if p.filterable || p.sortable => {
                    return Err(format!("{}: filterable/sortable scalar needs a column", p.name))
                }
                (false, Some(_)) => return Err(format!("{}: collections/objects have no column", p.name)),
                (false, _) if p.sortable => return Err(format!("{}: collections/objects cannot be sortable", p.name)),
                _ => {}
            }
            if let PropType::Enum(members) = p.ty {
                if members.is_empty() {
                    return Err(format!("{}: enum without members", p.name));
                }
                for (j, m) in members.iter().enumerate() {
                    if members[..j].iter().any(|n| n.eq_ignore_ascii_case(m)) {
                        return Err(format!("{}: duplicate enum member {m}", p.name));
                    }
                }
            }
        }
        match self.key_property() {
            Some(p) if p.is_scalar() => {}
            _ => {
                return Err(format!(
                    "key column {} is not the column of a scalar property",
                    self.key_column
                ))
            }
        }
        if self.max_top == 0 {
            return Err("max_top must be positive".into());
        }
        Ok(())
    }
}
