// Collation ids as clients send them (HandshakeResponse41 and COM_CHANGE_USER character_set) and the
// character sets they belong to, for a `SET NAMES <charset>` on backend connections.
//
//   collation id (int<1> in the handshake, int<2> in COM_CHANGE_USER) ─► charset_of_collation() ─► "utf8mb4"
//
// Source: MariaDB INFORMATION_SCHEMA.COLLATIONS (and MySQL 8's utf8mb4_0900_ai_ci, id 255).
#pragma once

#include <cstdint>
#include <string_view>

namespace corral::mysql {

/// The charset name of a collation id from a handshake; empty when unknown.
std::string_view charset_of_collation(std::uint16_t collation_id) noexcept;

/// The charset of a collation the server refuses as a client's (ucs2, utf16, utf16le, utf32: not
/// ASCII-compatible, so its parser cannot read statements in them): a handshake or COM_CHANGE_USER
/// with one gets ERR 1231 "Variable 'character_set_client' can't be set to the value of 'ucs2'".
/// Empty for every other id.
std::string_view refused_client_charset(std::uint16_t collation_id) noexcept;

/// True when `collation` is what `SET NAMES charset` gives (MariaDB 10.11's default collation of the
/// charset, SHOW CHARACTER SET): a `SET NAMES charset` alone then reproduces it.
bool is_default_collation(std::string_view charset, std::string_view collation) noexcept;

/// True when `collation` is one of `charset`'s (named "<charset>_...", or binary's own): only then
/// can `SET NAMES charset COLLATE collation` say it.
bool collation_belongs_to(std::string_view charset, std::string_view collation) noexcept;

}  // namespace corral::mysql
