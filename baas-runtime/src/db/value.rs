//! The value type that crosses between records and SQL, and its conversions to and from
//! each engine's own types.

use postgres::types::{IsNull, ToSql as PgToSql, Type};
use rusqlite::types::{ToSqlOutput, ValueRef};

#[derive(Clone, Debug, Default, PartialEq)]
pub enum SqlValue {
    #[default]
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            SqlValue::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// PostgreSQL is strictly typed: a value is converted to the type the server expects for its
/// parameter (a JSON text to `jsonb`, an integer to `float8`, …).
impl PgToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        if *self == SqlValue::Null {
            return Ok(IsNull::Yes);
        }
        match *ty {
            Type::INT8 => self.to_i64()?.to_sql(ty, out),
            Type::INT4 => i32::try_from(self.to_i64()?)?.to_sql(ty, out),
            Type::INT2 => i16::try_from(self.to_i64()?)?.to_sql(ty, out),
            Type::FLOAT8 => self.to_f64()?.to_sql(ty, out),
            Type::FLOAT4 => (self.to_f64()? as f32).to_sql(ty, out),
            Type::BOOL => match self {
                SqlValue::Bool(b) => b.to_sql(ty, out),
                SqlValue::Int(i) => (*i != 0).to_sql(ty, out),
                SqlValue::Real(f) => (*f != 0.0).to_sql(ty, out),
                SqlValue::Text(s) => (s == "true" || s == "1").to_sql(ty, out),
                SqlValue::Null => unreachable!(),
            },
            Type::JSON | Type::JSONB => {
                let json = match self {
                    SqlValue::Text(s) => {
                        serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone()))
                    }
                    SqlValue::Int(i) => serde_json::json!(i),
                    SqlValue::Real(f) => serde_json::json!(f),
                    SqlValue::Bool(b) => serde_json::Value::Bool(*b),
                    SqlValue::Null => unreachable!(),
                };
                json.to_sql(ty, out)
            }
            _ => self.text().to_sql(&Type::TEXT, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl SqlValue {
    pub(super) fn from_ref(v: ValueRef<'_>) -> SqlValue {
        match v {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(i) => SqlValue::Int(i),
            ValueRef::Real(f) => SqlValue::Real(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        }
    }

    /// Column `i` of a PostgreSQL row, read by its type.
    pub(super) fn from_pg(row: &postgres::Row, i: usize) -> Result<SqlValue, postgres::Error> {
        let ty = row.columns()[i].type_().clone();
        Ok(match ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map_or(SqlValue::Null, SqlValue::Bool),
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(SqlValue::Null, SqlValue::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Int(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(SqlValue::Null, SqlValue::Real),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map_or(SqlValue::Null, |v| SqlValue::Real(v.into())),
            Type::JSON | Type::JSONB => row
                .try_get::<_, Option<serde_json::Value>>(i)?
                .map_or(SqlValue::Null, |v| SqlValue::Text(v.to_string())),
            Type::NUMERIC => row.try_get::<_, Option<Numeric>>(i)?.map_or(SqlValue::Null, |n| SqlValue::Real(n.0)),
            _ => match row.try_get::<_, Option<String>>(i) {
                Ok(v) => v.map_or(SqlValue::Null, SqlValue::Text),
                // A type without a text mapping here (numeric, timestamps in a view, …).
                Err(_) => SqlValue::Null,
            },
        })
    }

    fn text(&self) -> String {
        match self {
            SqlValue::Null => String::new(),
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Real(f) => f.to_string(),
            SqlValue::Text(s) => s.clone(),
            SqlValue::Bool(b) => b.to_string(),
        }
    }

    fn to_i64(&self) -> Result<i64, BoxError> {
        match self {
            SqlValue::Text(s) => Ok(s.trim().parse::<f64>().map(|f| f as i64)?),
            v => Ok(v.as_i64().unwrap_or(0)),
        }
    }

    fn to_f64(&self) -> Result<f64, BoxError> {
        match self {
            SqlValue::Int(i) => Ok(*i as f64),
            SqlValue::Real(f) => Ok(*f),
            SqlValue::Bool(b) => Ok(f64::from(u8::from(*b))),
            SqlValue::Text(s) => Ok(s.trim().parse()?),
            SqlValue::Null => Ok(0.0),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            SqlValue::Real(f) => Some(*f as i64),
            SqlValue::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}

/// A PostgreSQL `numeric` (`SUM` of integers in a view, …), read as a float.
struct Numeric(f64);

impl<'a> postgres::types::FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        // ndigits, weight, sign, dscale (i16 each), then ndigits base-10000 digits.
        let word = |i: usize| -> Result<i16, BoxError> {
            let b = raw.get(2 * i..2 * i + 2).ok_or("truncated numeric")?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        };
        let (ndigits, weight, sign) = (word(0)?, word(1)?, word(2)? as u16);
        if sign == 0xC000 {
            return Ok(Numeric(f64::NAN));
        }
        let mut value = 0.0;
        for d in 0..ndigits.max(0) as usize {
            value += f64::from(word(4 + d)?) * 10_000f64.powi(i32::from(weight) - d as i32);
        }
        Ok(Numeric(if sign == 0x4000 { -value } else { value }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// A row: values in the order of the query's columns.
/// A row: values in the order of the query's columns.
pub type Row = Vec<SqlValue>;
