//! The schema digest: one number that changes whenever any migration does.

use crate::migrations::MIGRATIONS;

/// A digest of every migration's SQL: changes whenever any migration does, so that a
/// cached template database built from other migrations is never reused.
pub fn schema_digest() -> u64 {
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for m in MIGRATIONS {
        for byte in m.name.bytes().chain(m.up.bytes()).chain(m.down.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}
