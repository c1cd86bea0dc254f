//! Container ids, checked before any path is built from them.

use crate::error::{Error, Result};

/// Longer ids are refused: an id is a directory name under the state
/// root, which the kernel limits to 255 bytes, and `delete` renames it
/// with a prefix first.
pub const MAX_ID_LEN: usize = 200;

/// Accept what runc accepts: letters, digits, `_`, `+`, `-`, `.`, not
/// `.` or `..`, not empty, not too long.
pub fn validate(id: &str) -> Result<()> {
    let fail = |reason| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return fail("it is longer than 200 bytes");
    }
    if id == "." || id == ".." {
        return fail("it names a directory");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return fail("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_ids() {
        for id in [
            "a",
            "abc-123",
            "x.y_z+w",
            "0123456789abcdef",
            &"a".repeat(MAX_ID_LEN),
        ] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn bad_ids() {
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "/abs",
            "a b",
            "a\0b",
            "ü",
            &"a".repeat(MAX_ID_LEN + 1),
        ] {
            assert!(
                matches!(validate(id), Err(Error::InvalidId { .. })),
                "{id:?}"
            );
        }
    }
}
