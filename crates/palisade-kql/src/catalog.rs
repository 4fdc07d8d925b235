//! The tables a query may read: [`Catalog`] of [`TableSchema`]s, built by callers or
//! from the bundled advanced hunting schema ([`Catalog::defender_hunting`]).

use crate::types::KqlType;

/// One table: a name and ordered, typed columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<(String, KqlType)>,
    /// The column the look-back window applies to (`Timestamp` in hunting tables);
    /// `None` means the window does not restrict this table.
    pub time_column: Option<String>,
}

impl TableSchema {
    /// A table whose time column is `Timestamp` if it has one of type `datetime`.
    pub fn new(name: impl Into<String>, columns: Vec<(String, KqlType)>) -> Self {
        let time_column = columns
            .iter()
            .find(|(n, t)| n == "Timestamp" && *t == KqlType::DateTime)
            .map(|(n, _)| n.clone());
        TableSchema {
            name: name.into(),
            columns,
            time_column,
        }
    }

    /// Index and type of a column (case-sensitive, as in Kusto).
    pub fn column(&self, name: &str) -> Option<(usize, KqlType)> {
        self.columns
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (i, self.columns[i].1))
    }
}

/// The set of tables visible to queries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub tables: Vec<TableSchema>,
}

/// The advanced hunting schema shipped with the crate (13 tables).
pub const HUNTING_SCHEMA_JSON: &str = include_str!("../data/hunting-schema.json");

impl Catalog {
    pub fn new(tables: Vec<TableSchema>) -> Self {
        Catalog { tables }
    }

    /// Table by exact name (table names are case-sensitive in Kusto).
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Builds a catalog from JSON shaped like `data/hunting-schema.json`:
    /// `{"Table": [["Column", "type"], ...], ...}`; keys starting with `_` are
    /// comments. Type `json` (documented as string, carrying JSON) is `dynamic`.
    pub fn from_json(text: &str) -> Result<Catalog, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let obj = v.as_object().ok_or("the schema must be a JSON object")?;
        let mut tables = Vec::new();
        for (name, cols) in obj {
            if name.starts_with('_') {
                continue;
            }
            let arr = cols.as_array().ok_or_else(|| format!("{name}: expected an array"))?;
            let mut columns = Vec::new();
            for c in arr {
                let pair = c.as_array().filter(|p| p.len() == 2);
                let (Some(cn), Some(ct)) = (pair.and_then(|p| p[0].as_str()), pair.and_then(|p| p[1].as_str())) else {
                    return Err(format!("{name}: expected [name, type] pairs"));
                };
                let ty = KqlType::parse(ct).ok_or_else(|| format!("{name}.{cn}: unknown type {ct}"))?;
                columns.push((cn.to_string(), ty));
            }
            tables.push(TableSchema::new(name.clone(), columns));
        }
        Ok(Catalog { tables })
    }

    /// The hunting catalog built once per process (what a server should use).
    pub fn defender_hunting_shared() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(Catalog::defender_hunting)
    }

    /// The 13 Microsoft Defender advanced hunting tables.
    pub fn defender_hunting() -> Catalog {
        // The bundled file is checked by a unit test, so this cannot fail.
        Catalog::from_json(HUNTING_SCHEMA_JSON).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunting_catalog() {
        let c = Catalog::from_json(HUNTING_SCHEMA_JSON).unwrap();
        assert_eq!(c.tables.len(), 13);
        let t = c.table("DeviceProcessEvents").unwrap();
        assert_eq!(t.column("AdditionalFields").unwrap().1, KqlType::Dynamic);
        assert_eq!(t.time_column.as_deref(), Some("Timestamp"));
        assert_eq!(
            c.table("DeviceNetworkEvents").unwrap().column("RemotePort").unwrap().1,
            KqlType::Int
        );
    }
}
