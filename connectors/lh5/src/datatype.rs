//! LH5's `datatype` attribute: the grammar legend-pydataobj writes on every object.

/// What an LH5 object is, parsed from its `datatype` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lh5Type {
    /// `real`, `bool`, `complex` or `string`: one value.
    Scalar(Element),
    /// `array<N>{real|bool|string|complex|detectorid}`: an N-dimensional dataset.
    Array {
        /// N, the rank declared in the attribute.
        rank: usize,
        /// The element kind.
        element: Element,
    },
    /// `array_of_equalsized_arrays<1,1>{…}` and `fixedsize_array<N>{…}`: a 2-D dataset, one row
    /// per entry.
    EqualSizedArrays(Element),
    /// `array<1>{array<1>{…}}` (VectorOfVectors): `flattened_data` + `cumulative_length`.
    VectorOfVectors(Box<Lh5Type>),
    /// `array<1>{encoded_array<1>{…}}` (VectorOfEncodedVectors).
    VectorOfEncodedVectors,
    /// `array_of_encoded_equalsized_arrays<1,1>{…}`.
    ArrayOfEncodedEqualSizedArrays,
    /// `struct{a,b,…}`: named fields (the list in the attribute, in any order).
    Struct(Vec<String>),
    /// `table{a,b,…}`: named columns of equal length (in any order).
    Table(Vec<String>),
    /// A datatype hepq does not read (`view{…}`, unknown words); the text is kept.
    Other(String),
}

/// The element kind inside an array type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// Numbers (the HDF5 datatype says which).
    Real,
    /// Booleans (stored as HDF5 booleans or `uint8`).
    Bool,
    /// Byte strings.
    String,
    /// Complex numbers (not read by hepq).
    Complex,
    /// Detector IDs (`ArrayOfDetectorIDs`), stored as integers.
    DetectorId,
}

fn element(word: &str) -> Option<Element> {
    match word.trim() {
        "real" => Some(Element::Real),
        "bool" => Some(Element::Bool),
        "string" => Some(Element::String),
        "complex" => Some(Element::Complex),
        "detectorid" => Some(Element::DetectorId),
        _ => None,
    }
}

/// Splits `prefix<params>{inner}` into (prefix, params, inner).
fn split(expr: &str) -> Option<(&str, Option<&str>, &str)> {
    let open = expr.find('{')?;
    let inner = expr.get(open + 1..)?.strip_suffix('}')?;
    let head = expr.get(..open)?;
    match head.find('<') {
        Some(lt) => {
            let params = head.get(lt + 1..)?.strip_suffix('>')?;
            Some((head.get(..lt)?, Some(params), inner))
        }
        None => Some((head, None, inner)),
    }
}

fn fields(inner: &str) -> Vec<String> {
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Lh5Type {
    /// Parses a `datatype` attribute. Unknown text becomes [`Lh5Type::Other`].
    pub fn parse(expr: &str) -> Lh5Type {
        let expr = expr.trim();
        if let Some(e) = element(expr) {
            return Lh5Type::Scalar(e);
        }
        let other = || Lh5Type::Other(expr.to_string());
        let Some((head, params, inner)) = split(expr) else {
            return other();
        };
        match (head, params) {
            ("struct", None) => Lh5Type::Struct(fields(inner)),
            ("table", None) => Lh5Type::Table(fields(inner)),
            ("array_of_equalsized_arrays", Some("1,1")) | ("fixedsize_array", Some(_)) => {
                element(inner).map_or_else(other, Lh5Type::EqualSizedArrays)
            }
            ("array_of_encoded_equalsized_arrays", Some("1,1")) => {
                Lh5Type::ArrayOfEncodedEqualSizedArrays
            }
            ("array", Some(rank)) => {
                if let Some(e) = element(inner) {
                    return match rank.trim().parse::<usize>() {
                        Ok(rank) if rank >= 1 => Lh5Type::Array { rank, element: e },
                        _ => other(),
                    };
                }
                if rank.trim() != "1" {
                    return other();
                }
                if inner.starts_with("encoded_array<1>{") {
                    return Lh5Type::VectorOfEncodedVectors;
                }
                match Lh5Type::parse(inner) {
                    inner @ (Lh5Type::Array { rank: 1, .. } | Lh5Type::VectorOfVectors(_)) => {
                        Lh5Type::VectorOfVectors(Box::new(inner))
                    }
                    _ => other(),
                }
            }
            _ => other(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lh5_types() {
        assert_eq!(Lh5Type::parse("real"), Lh5Type::Scalar(Element::Real));
        assert_eq!(
            Lh5Type::parse("array<1>{bool}"),
            Lh5Type::Array {
                rank: 1,
                element: Element::Bool
            }
        );
        assert_eq!(
            Lh5Type::parse("array<2>{real}"),
            Lh5Type::Array {
                rank: 2,
                element: Element::Real
            }
        );
        assert_eq!(
            Lh5Type::parse("array_of_equalsized_arrays<1,1>{real}"),
            Lh5Type::EqualSizedArrays(Element::Real)
        );
        assert_eq!(
            Lh5Type::parse("array<1>{array<1>{array<1>{real}}}"),
            Lh5Type::VectorOfVectors(Box::new(Lh5Type::VectorOfVectors(Box::new(
                Lh5Type::Array {
                    rank: 1,
                    element: Element::Real
                }
            ))))
        );
        assert_eq!(
            Lh5Type::parse("array<1>{encoded_array<1>{real}}"),
            Lh5Type::VectorOfEncodedVectors
        );
        assert_eq!(
            Lh5Type::parse("array_of_encoded_equalsized_arrays<1,1>{real}"),
            Lh5Type::ArrayOfEncodedEqualSizedArrays
        );
        assert_eq!(
            Lh5Type::parse("table{t0,dt,values}"),
            Lh5Type::Table(vec!["t0".into(), "dt".into(), "values".into()])
        );
        assert_eq!(Lh5Type::parse("struct{}"), Lh5Type::Struct(vec![]));
        for bad in [
            "",
            "view{x}",
            "array<x>{real}",
            "array<1>{",
            "array<0>{real}",
            "tablex",
        ] {
            assert!(matches!(Lh5Type::parse(bad), Lh5Type::Other(_)), "{bad}");
        }
    }
}
